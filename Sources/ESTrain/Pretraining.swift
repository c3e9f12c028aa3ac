// What `esvit pretrain` does once its options are parsed: opens the data (and the labelled
// splits of the periodic k-NN), trains, and turns the outcome into an exit code. Errors the
// trainer raises are agreed by every rank, so rank 0 reports them; anything else (e.g. data
// missing on one node) is reported by the rank that saw it.
import ESData
import ESDistributed
import Foundation

public enum Pretraining {
    /// `--print-preset`: the preset's settings as command-line options.
    public static func presetListing(_ options: PretrainOptions) throws -> String {
        guard let p = options.recipe else { throw TrainError.config("\(option(\.printPreset)) needs \(option(\.config.preset)) NAME") }
        return "\(option(\.config.preset)) \(p.name): \(p.summary)\n  " + p.commandLine
    }

    /// Trains with `options` on `comm`. Returns 0, StopRequest.exitCode (stopped by a signal,
    /// checkpoint written), 64 (an option refused after MPI started) or 1 (an error, reported). `say` prints rank 0's lines, `report` the errors.
    public static func run(_ options: PretrainOptions, comm: Communicator, startedAt: Double, say: @escaping (String) -> Void = { print($0) },
                           report: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }) -> Int32 {
        do {
            let line = try options.commandLine(), config = line.config
            let source = try config.dataset.trainingImages(at: config.dataPath)
            try source.checkUsable()
            let trainer = try Trainer(config: config, comm: comm, source: source, resumeFrom: line.resumeFrom, requireResume: line.resume,
                                      evaluation: try evaluationSplits(config, training: source), startedAt: startedAt,
                                      faults: EnvironmentFaults(environment: ProcessInfo.processInfo.environment, rank: comm.rank), say: say)
            let summary = try trainer.run()
            // Every rank stopped after the same iteration and the checkpoint is written.
            if summary.stopSignal != nil { return StopRequest.exitCode }
            if comm.isRoot, let ck = summary.checkpoint {
                say("checkpoints are in \(config.outputDir) (latest: \(ck)); they are safetensors files with student.*, teacher.*, "
                      + "optimizer.* and loss.* tensors and the run's configuration in the metadata.")
            }
            return 0
        } catch {
            if comm.isRoot || !(error is TrainError) {
                report((comm.size > 1 ? "rank \(comm.rank): " : "") + "error: \(error)")
            }
            if case TrainError.option = error { return 64 }
            return 1
        }
    }

    /// The periodic k-NN's labelled data: Fashion-MNIST's test split against the training images,
    /// single items for the scenes, or --eval-data-path's train/ and val/ for a folder dataset; and
    /// the test images of the correspondence measure when --eval-correspondence-limit asks for it
    /// (the test scenes for the scenes). nil: no periodic evaluation.
    static func evaluationSplits(_ c: PretrainConfig, training: ImageSource) throws -> EvaluationData? {
        guard c.evaluates else { return nil }
        let measuresRegions = (c.evalCorrespondenceLimit ?? 0) > 0
        switch c.dataset {
        case .fashionMNIST:   // the training images are the bank; the test split serves both measures
            let test = try FashionMNIST(root: c.dataPath, split: .test)
            return EvaluationData(train: training, test: test, regions: measuresRegions ? test : nil)
        case .folder:
            let (train, test) = try c.dataset.labelledSplits(at: c.evalDataPath ?? "")
            return EvaluationData(train: train, test: test, regions: measuresRegions ? test : nil)
        case .fashionScenes:  // single items on the canvas, as eval-knn; the test scenes for correspondence
            let train = try (training as? FashionScenes)?.items ?? FashionMNIST(root: c.dataPath, split: .train)
            let test = try FashionMNIST(root: c.dataPath, split: .test)
            return EvaluationData(train: FashionItems(items: train), test: FashionItems(items: test), regions: measuresRegions ? FashionScenes(items: test) : nil)
        }
    }

}
