// `esvit pretrain`: the distributed trainer. It lands with the trainer issue; until then this
// command says so plainly instead of pretending.
import ArgumentParser

struct Pretrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "EsViT pretraining (not yet available: the engine is in place; the objective, data pipeline and trainer are next).")

    func run() throws {
        print("esvit pretrain: not yet — this build has the Swin engine (forward/backward, weights I/O, benchmarks);")
        print("the EsViT objective, the input pipeline and the MPI trainer are still to come. See README.md › Status.")
        throw ExitCode(3)
    }
}
