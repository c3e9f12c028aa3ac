// Workspaces sharing one TransientPool (EsViT's teacher and two student workspaces): their shared
// and scratch buffers must hold nothing from one call to the next. The pool is filled with NaN
// before every forward and backward call, in EsViT's order (teacher forward, student forward on
// both groups, student backward on both); every output and gradient must equal, bit for bit,
// those of workspaces with arenas of their own. A kernel that read a transient buffer before
// writing it in the same call would carry the NaN into the results.
import XCTest
import ESKernels
@testable import ESModel
import ESTestSupport

final class TransientPoolTests: XCTestCase {
    struct Results: Equatable { var teacher: [Float], student: [Float], grads: [Float] }

    /// EsViT's call order on (teacher, global, local) workspaces; `poison` runs before every call.
    func run(_ m: GeneratedModel, _ ws: [SwinWorkspace], globals: [Float], locals: [Float], poison: () -> Void) -> Results {
        let (teacher, global, local) = (ws[0], ws[1], ws[2])
        func outputs(_ w: SwinWorkspace) -> [Float] {
            Array(UnsafeBufferPointer(start: w.tokens, count: w.batch * w.finalTokens * w.finalDim))
                + Array(UnsafeBufferPointer(start: w.pooled, count: w.batch * w.finalDim))
        }
        poison(); m.model.forward(params: m.params.pointer, image: globals, workspace: teacher)
        poison(); m.model.forward(params: m.params.pointer, image: globals, workspace: global, dropPathKeys: (0..<global.batch).map { UInt64(7 + $0) })
        poison(); m.model.forward(params: m.params.pointer, image: locals, workspace: local, dropPathKeys: (0..<local.batch).map { UInt64(70 + $0) })
        let student = outputs(global) + outputs(local)
        m.grads.zero()
        for (w, salt) in [(global, "g"), (local, "l")] {
            let dTok = FixtureTensors.array("pool.dtok.\(salt)", count: w.batch * w.finalTokens * w.finalDim, scale: 1)
            let dPool = FixtureTensors.array("pool.dpool.\(salt)", count: w.batch * w.finalDim, scale: 1)
            poison(); m.model.backward(params: m.params.pointer, grads: m.grads.pointer, workspace: w, dTokens: dTok, dPooled: dPool)
        }
        return Results(teacher: outputs(teacher), student: student, grads: Array(UnsafeBufferPointer(start: m.grads.pointer, count: m.table.totalCount)))
    }

    func testPooledWorkspacesMatchOwnArenas() {
        var tiny = tinyFixtureConfig
        tiny.dropPathRate = 0.3
        // Odd grids (7×7 and 3×3 at patch 2; 7×7 and 3×3 at patch 4) pad the windows; shifts on.
        for (name, cfg, global, local) in [("tiny", tiny, 14, 6), ("swin_mini", SwinConfig.preset("swin_mini")!, 28, 12)] {
            let m = GeneratedModel(cfg), B = 2, nL = 3
            let shapes = [(B * 2, global, false), (B * 2, global, true), (B * nL, local, true)]
            let pool = TransientPool(for: shapes.map { SwinWorkspace.layout(model: m.model, batch: $0.0, height: $0.1, width: $0.1, training: $0.2) })
            let pooled = shapes.map { SwinWorkspace(model: m.model, batch: $0.0, height: $0.1, width: $0.1, training: $0.2, transient: pool) }
            let own = shapes.map { SwinWorkspace(model: m.model, batch: $0.0, height: $0.1, width: $0.1, training: $0.2) }
            let range = UnsafeMutableRawPointer(pool.base)..<(pool.base + pool.bytes)
            for w in pooled {
                XCTAssertTrue(range.contains(UnsafeMutableRawPointer(w.blocks[0].ln1)), "\(name): ln1 lies in the pool")
                XCTAssertLessThan(w.bytes, w.arena.totalBytes, "\(name): a pooled workspace owns only its kept buffers")
            }
            XCTAssertEqual(pool.bytes, shapes.indices.map { own[$0].arena.layout.transientBytes }.max())
            let globals = FixtureTensors.array("pool.globals.\(name)", count: 2 * B * 3 * global * global, scale: 1)
            let locals = FixtureTensors.array("pool.locals.\(name)", count: nL * B * 3 * local * local, scale: 1)
            let expected = run(m, own, globals: globals, locals: locals) {}
            let got = run(m, pooled, globals: globals, locals: locals) {
                pool.base.initializeMemory(as: Float.self, repeating: .nan, count: pool.bytes / 4)
            }
            XCTAssertFalse(expected.grads.contains { $0.isNaN } || expected.student.contains { $0.isNaN }, "\(name): reference is finite")
            XCTAssertTrue(got.teacher == expected.teacher, "\(name): teacher outputs differ with a shared pool")
            XCTAssertTrue(got.student == expected.student, "\(name): student outputs differ with a shared pool")
            let bad = zip(got.grads, expected.grads).filter { $0 != $1 }.count
            XCTAssertEqual(bad, 0, "\(name): \(bad) of \(got.grads.count) gradient entries differ with a shared pool")
        }
    }
}
