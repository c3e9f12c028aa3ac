// `esvit pretrain`: the distributed trainer. It lands with the trainer issue; until then this
// command says so plainly instead of pretending.
import ArgumentParser

struct Pretrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "EsViT pretraining (not yet available: the engine and the objective are in place; the data pipeline and MPI trainer are next).")

    func run() throws {
        print("esvit pretrain: not yet. This build has the Swin engine and the EsViT objective with a complete")
        print("single-process training step (see `esvit bench step`); the input pipeline and the MPI trainer")
        print("are still to come. See README.md › Status.")
        throw ExitCode(3)
    }
}
