// `esvit eval-correspondence`: upstream's correspondence accuracy and distance error of a
// checkpoint's frozen backbone (the measure EsViT argues its region loss with). The work is
// ESEval's CorrespondenceAccuracy.
import ArgumentParser
import ESData
import ESEval
import ESKernels
import ESOptions
import Foundation

struct EvalCorrespondence: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval-correspondence",
        abstract: "Correspondence accuracy of a checkpoint's frozen backbone (upstream's --measure_correspondence).",
        discussion: """
        Each test image (Resize + CenterCrop at the pretraining input size, as k-NN) is view 1; view 2 \
        is view 1 flipped horizontally, colour-jittered (p 0.8) and turned gray. Every final token of \
        view 1 is matched to its most cosine-similar token of view 2; of the 10 most similar matches, \
        accuracy is the share landing exactly on the mirrored cell, distance error the mean distance \
        in pixels between the matched and the mirrored cell centres. Both are averaged over the \
        images, and the same network at random initialisation is measured beside it (--no-baseline leaves it out).

        Examples:
          esvit eval-correspondence --checkpoint runs/scenes/checkpoint.safetensors --dataset fashion-scenes
          esvit eval-correspondence --checkpoint runs/fm2h/checkpoint.safetensors --test-limit 2000
        """)

    @OptionGroup var network: EvalNetworkOptions
    @Option(help: "fashion-mnist (test images), fashion-scenes (test scenes) or folder (DATA_PATH/val).") var dataset: DatasetKind = .standard
    @Option(help: "Dataset location (default for the Fashion-MNIST sets: \(FashionMNIST.defaultRoot)).") var dataPath: String?
    @Option(help: "Measure only the first N test images.") var testLimit: Int?
    @Option(help: "Seed of view 2's colour jitter (image i draws from (seed, i)).") var viewSeed: UInt64 = CorrespondenceAccuracy.defaultSeed
    @Option(help: "Image pairs per forward pass.") var batchSize: Int = CorrespondenceAccuracy.defaultBatch
    @Option(help: "Compute threads (default: OPENBLAS_NUM_THREADS if set, else the cores this process may use).") var threads: Int?

    func validate() throws {
        try network.requireNetwork()
        if dataset.defaultPath == nil && dataPath == nil { throw ValidationError("--dataset \(dataset) needs --data-path (with val/ inside)") }
        if batchSize < 1 || (threads ?? 1) < 1 || (testLimit ?? 1) < 1 { throw ValidationError("--batch-size, --threads and --test-limit must be ≥ 1") }
    }

    func run() throws {
        Compute.setThreads(threads ?? defaultThreads)
        let backbone = try cli { try network.load() }
        let source = try cli { try dataset.testImages(at: dataPath ?? dataset.defaultPath ?? "") }
        let n = min(testLimit ?? source.count, source.count)
        print("esvit eval-correspondence: \(backbone.origin)")
        for note in backbone.notes { print("  \(note)") }
        let start = Date()
        func measure(_ b: EvalBackbone, _ what: String) -> CorrespondenceAccuracy.Result {
            CorrespondenceAccuracy.evaluate(b, source: source, count: n, mean: dataset.mean, std: dataset.std, seed: viewSeed, batch: batchSize) { done, total in
                if done == total || done % (batchSize * 20) < batchSize {
                    let el = Date().timeIntervalSince(start)
                    print(String(format: "  %@: %d/%d images, ETA %.0fs", what, done, total, el / Double(done) * Double(total - done)))
                }
            }
        }
        let r = measure(backbone, "pairs")
        func line(_ s: CorrespondenceAccuracy.Score) -> String { String(format: "accuracy %.2f%%, distance error %.2f px", 100 * s.accuracy, s.distance) }
        print("  \(dataset), \(n) images at \(backbone.inputSize) px: \(r.side)×\(r.side) final tokens, \(String(format: "%g", r.cell)) px cells, top \(min(CorrespondenceAccuracy.pairs, r.side * r.side)) matches per image"
              + (r.unreadable > 0 ? "; \(r.unreadable) unreadable image(s) left out" : ""))
        var summary = "correspondence: \(line(r.score))"
        if let random = network.baselineBackbone(like: backbone) {
            let b = measure(random, "random-init pairs")
            summary += String(format: "  (random init: %@; gain %+.2f points, %+.2f px)", line(b.score),
                              100 * (r.score.accuracy - b.score.accuracy), r.score.distance - b.score.distance)
        }
        print(summary)
    }
}
