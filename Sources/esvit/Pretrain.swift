// `esvit pretrain`: the distributed trainer. It lands with the trainer issue; until then this
// command says so plainly instead of pretending.
import ArgumentParser

struct Pretrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "EsViT pretraining (not yet available: engine, objective, input pipeline, communicator and checkpoints are in place; the training loop is next).")

    func run() throws {
        print("esvit pretrain: not yet. This build has the Swin engine, the EsViT objective with a complete training")
        print("step (`esvit bench step`), the input pipeline (`esvit prepare`, `esvit bench data`), the MPI communicator")
        print("(`esvit doctor --check-mpi`) and checkpoints; the distributed training loop is still to come. See README.md › Status.")
        throw ExitCode(3)
    }
}
