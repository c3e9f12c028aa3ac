// `esvit bench pretrain`: the options of the end-to-end pretraining benchmark (ESBench/PretrainBench.swift).
import ArgumentParser
import ESBench
import Foundation

struct BenchPretrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pretrain",
        abstract: "End-to-end pretraining throughput (images/s, data loading included) under launch/run-node.sh.",
        discussion: """
        Runs `esvit pretrain --preset P --iterations N` under launch/run-node.sh with --ranks ranks \
        of one thread each (no evaluation, no intermediate checkpoints) and reads images/s from the \
        run's log.txt: the median of the 10-iteration progress windows after the first. With \
        --compare-torch PYTHON it also runs tools/reference/pretrain_reference.py (the same recipe in \
        PyTorch: torchvision multi-crop on PIL images, DataLoader, DDP over gloo) in each of its \
        launches on the same cores (1 process × N threads and N processes × 1 thread, each with 0 \
        and 1 loader workers) and prints the ratio against the fastest. Run from the repository's \
        top folder after launch/setup.sh. With --compare-official DIR it times the official EsViT \
        code the same way (tools/official/run_official.py with --python, DIR a checkout of \
        microsoft/esvit): images/s and the peak memory of every process of both. Every esvit figure \
        and each peer's are measured in the same run, with the CPU model and the date printed.

        Examples:
          esvit bench pretrain --ranks 2 --compare-official /path/to/esvit-official --python .venv/bin/python --rounds 3
          esvit bench pretrain --ranks 2 --compare-torch .venv/bin/python --rounds 4
        """)

    @Option(help: "MPI ranks (one thread each).") var ranks: Int = 2
    @Option(help: "Iterations of the run (the first 10 are warm-up).") var iterations: Int = 60
    @Option(help: "The recipe (esvit pretrain --preset).") var preset: String = "fm-quick"
    @Option(help: "The launcher.") var launcher: String = "launch/run-node.sh"
    @Option(help: "Python with torch and torchvision: also time the PyTorch reference.") var compareTorch: String?
    @Option(help: "Path to pretrain_reference.py.") var torchScript: String = "tools/reference/pretrain_reference.py"
    @Option(help: "Folder of the official EsViT code (a checkout of microsoft/esvit): also time it with the same recipe.") var compareOfficial: String?
    @Option(help: "Python with torch, torchvision, timm, yacs and einops, for --compare-official.") var python: String = "python3"
    @Option(help: "Path to run_official.py.") var officialScript: String = "tools/official/run_official.py"
    @Option(help: "With a peer: further rounds alternating an esvit run and the peer's fastest launch; prints every round's ratio and the median.") var rounds: Int = 1

    func bench() throws -> PretrainBench {
        try asValidation { try PretrainBench(ranks: ranks, iterations: iterations, preset: preset, launcher: launcher) }
    }

    func validate() throws {
        _ = try bench()
        guard rounds >= 1 else { throw ValidationError("--rounds must be ≥ 1") }
        if let dir = compareOfficial, !FileManager.default.fileExists(atPath: dir + "/main_esvit.py") {
            throw ValidationError("--compare-official \(dir) has no main_esvit.py: give the folder of a checkout of https://github.com/microsoft/esvit")
        }
    }

    func run() throws {
        let bench = try bench()
        let say: (String) -> Void = { print($0); fflush(stdout) }
        let mine = try cli { try bench.run(say: say) }
        if let dir = compareOfficial {
            let o = PretrainBench.Official(repo: dir, python: python, script: officialScript)
            try cli { try bench.compare(mine, rounds: rounds, name: "official EsViT", peer: { try bench.officialPeer($0, o) }, say: say) }
        }
        if let py = compareTorch { try cli { try bench.compare(mine, rounds: rounds, python: py, script: torchScript, say: say) } }
    }
}
