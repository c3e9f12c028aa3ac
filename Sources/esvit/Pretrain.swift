// `esvit pretrain`: EsViT pretraining as one process, under `mpirun -np N` on one node, or
// across nodes. The options, their defaults and rules live in ESTrain (PretrainSettings), and so
// does the run (Pretraining); this command only wires them to the process.
import ArgumentParser
import ESData
import ESDistributed
import ESKernels
import ESModel
import ESTrain
import Foundation

struct Pretrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "EsViT self-supervised pretraining (Swin + DINO view loss + region loss), data-parallel over MPI.",
        usage: "esvit pretrain --output-dir DIR [--preset NAME] [<option> ...]",
        discussion: """
        Runs as a plain process, or under mpirun with any number of ranks on one or many nodes \
        (launch/run-node.sh, launch/run-cluster.sh, launch/slurm.sbatch set binding and threads). \
        The global batch is --batch-size-per-rank × ranks × --grad-accum-steps and the peak lr is \
        --lr × global batch / 256. An existing checkpoint.safetensors in --output-dir is resumed \
        automatically, from the exact iteration, also with a different number of ranks.

        Size a run by --epochs (upstream's schedules), by --iterations, or by --time-budget MINUTES \
        (the iterations that fit are planned from a timing probe). --preset NAME starts from a named \
        recipe; see docs/results.md for what they reach.

        Examples:
          launch/run-node.sh -n 2 -- pretrain --preset fm-quick --output-dir runs/fm      (the quick start)
          launch/run-node.sh -n 2 -- pretrain --preset fm-quick --time-budget 60 --output-dir runs/fm60
          launch/run-node.sh -n 2 -- pretrain --preset fm-2h-noregion --output-dir runs/fm2h   (best two-hour recipe)
          esvit pretrain --output-dir runs/fm --epochs 1 --max-iters 200
          launch/run-node.sh -n 2 -- pretrain --output-dir runs/fm --epochs 10
          mpirun -np 8 --hostfile hosts esvit pretrain --arch swin_tiny --dataset folder --data-path /data/imagenet/train --output-dir runs/in1k
        """ + "\n" + PretrainSettings.help)

    @OptionGroup var options: PretrainOptions

    func run() throws {
        let startedAt = Trainer.now()
        // From here a stop signal (SLURM's early warning may come at any time) is only recorded:
        // the run stops after its first iteration at the latest, with a checkpoint.
        StopRequest.install()
        setvbuf(stdout, nil, _IOLBF, 0)
        if options.printPreset {
            do { print(try Pretraining.presetListing(options)) } catch { throw ValidationError("\(error)") }
            return
        }
        let comm = launchCommunicator()
        let code = Pretraining.run(options, comm: comm, startedAt: startedAt)
        if code != 1 { (comm as? MPICommunicator)?.finalize() }
        if code != 0 { Foundation.exit(code) }
    }
}
