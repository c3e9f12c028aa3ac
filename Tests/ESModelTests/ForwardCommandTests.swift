// `esvit forward` end to end, as a user runs it: weights written as safetensors under a
// checkpoint-style prefix, a float32 .npy input, features and tokens read back and compared
// with the PyTorch fixtures (swin_mini at 32 px, Swin-T/7 at 224). Error paths: a wrong
// architecture lists the mismatching keys; a bad input file is named; both exit non-zero.
import XCTest
import ESKernels
import ESModel
import ESTestSupport
import ESTestAssertions

final class ForwardCommandTests: XCTestCase {
    var tmp: TemporaryDirectory!
    var dir: URL { tmp.url }

    override func setUpWithError() throws { tmp = try TemporaryDirectory(prefix: "esvit-fwd") }
    override func tearDown() { tmp = nil }

    func path(_ n: String) -> String { dir.appendingPathComponent(n).path }

    static var esvitBinary: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("esvit").path
    }

    /// Runs esvit; returns (exit code, stdout + stderr).
    func esvit(_ args: [String]) throws -> (Int32, String) {
        try TestProcess.run(ForwardCommandTests.esvitBinary, args, timeout: 120)
    }

    func writeWeights(_ cfg: SwinConfig, prefix: String, to file: String) throws {
        let m = GeneratedModel(cfg)
        var w = SafeTensorsWriter()
        Weights.add(m.table, m.params.pointer, to: &w, filePrefix: prefix)
        // A real checkpoint also holds the heads (outside the prefix: ignored) and the I64
        // relative_position_index buffers (inside: tolerated).
        w.add("teacher.head.last_layer.weight_v", shape: [1], floats: [0])
        for b in m.model.blocks {
            w.add(prefix + "layers.\(b.plan.stage).blocks.\(b.plan.index).attn.relative_position_index",
                  shape: [b.relIndex.count], int64: b.relIndex.map(Int64.init))
        }
        try w.write(to: file)
    }

    func runFixture(_ name: String, arch: String, size: Int, batch: Int) throws {
        XCTAssertTrue(FileManager.default.fileExists(atPath: ForwardCommandTests.esvitBinary), "esvit binary not built")
        let cfg = SwinConfig.preset(arch)!
        try writeWeights(cfg, prefix: "teacher.backbone.", to: path("w.safetensors"))
        let img = FixtureTensors.array("input.\(name).img\(size)", count: batch * 3 * size * size, scale: 1)
        try Npy.write(NpyArray(shape: [batch, 3, size, size], data: img), to: path("x.npy"))
        let (code, out) = try esvit(["forward", "--arch", arch, "--weights", path("w.safetensors"), "--prefix", "teacher.backbone.",
                                     "--input", path("x.npy"), "--features", path("f.npy"), "--tokens", path("t.npy"),
                                     "--threads", "2", "--batch-size", "1"])
        XCTAssertEqual(code, 0, out)
        let fx = try fixture(name)
        let f = try Npy.read(path("f.npy")), t = try Npy.read(path("t.npy"))
        let wantTok = try fx.floats("tokens@\(size)"), wantPool = try fx.floats("pooled@\(size)")
        XCTAssertEqual(t.shape.reduce(1, *), wantTok.count); XCTAssertEqual(f.shape, [batch, wantPool.count / batch])
        let ct = assertClose("\(arch) tokens via esvit forward", got: t.data, want: wantTok, atol: 1e-4)
        let cf = assertClose("\(arch) features via esvit forward", got: f.data, want: wantPool, atol: 1e-4)
        print(ct); print(cf)
    }

    func testForwardMatchesPyTorchSwinMini() throws { try runFixture("swin_mini", arch: "swin_mini", size: 32, batch: 2) }

    func testForwardMatchesPyTorchSwinTiny224() throws { try runFixture("swin_tiny", arch: "swin_tiny", size: 224, batch: 1) }

    func testForwardRejectsWrongArchitectureAndBadInput() throws {
        try writeWeights(SwinConfig.preset("swin_mini")!, prefix: "", to: path("w.safetensors"))
        try Npy.write(NpyArray(shape: [1, 3, 32, 32], data: [Float](repeating: 0, count: 3 * 32 * 32)), to: path("x.npy"))
        let (c1, o1) = try esvit(["forward", "--arch", "swin_mini", "--embed-dim", "24", "--weights", path("w.safetensors"),
                                  "--input", path("x.npy"), "--features", path("f.npy")])
        XCTAssertNotEqual(c1, 0)
        XCTAssertTrue(o1.contains("wrong shape") && o1.contains("patch_embed.proj.weight"), o1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("f.npy")), "no output on failure")
        _ = FileManager.default.createFile(atPath: path("bad.npy"), contents: Data("not numpy".utf8))
        let (c2, o2) = try esvit(["forward", "--weights", path("w.safetensors"), "--input", path("bad.npy"), "--features", path("f.npy")])
        XCTAssertNotEqual(c2, 0); XCTAssertTrue(o2.contains("not a .npy file"), o2)
        let (c3, o3) = try esvit(["forward", "--arch", "swin_huge", "--weights", path("w.safetensors"), "--input", path("x.npy"), "--features", path("f.npy")])
        XCTAssertNotEqual(c3, 0); XCTAssertTrue(o3.contains("The value 'swin_huge' is invalid for '--arch <arch>'"), o3)
    }
}
