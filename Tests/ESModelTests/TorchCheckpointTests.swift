// The torch.save reader against files written by real torch 2.15 (tools/reference/
// make_torch_fixtures.py): every tensor's name, shape and values as torch reports them (views,
// offsets, F16/BF16/F64/I64 storages), the opaque non-tensor leaves, refusal of pickles that
// would run code (os.system, builtins.eval: protocol 2 names them posix.system and
// __builtin__.eval) and of the legacy format, and damaged archives.
import Foundation
import XCTest
import ESTestSupport
@testable import ESModel

final class TorchCheckpointTests: XCTestCase {
    func torchFixture(_ name: String) throws -> String {
        guard let dir = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else { throw TorchFileError.invalid("Fixtures missing") }
        return dir.appendingPathComponent("torch/" + name).path
    }

    func testEveryTensorMatchesWhatTorchWrote() throws {
        let ck = try TorchCheckpoint(path: try torchFixture("state.pth"))
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: try torchFixture("state.json")))) as! [String: Any]
        let expected = json["tensors"] as! [[String: Any]]
        XCTAssertEqual((try ck.tensors()).map(\.name), expected.map { $0["name"] as! String })
        for (got, want) in zip(try ck.tensors(), expected) {
            XCTAssertEqual(got.tensor.shape, want["shape"] as! [Int], got.name)
            // Every value is a Float exactly (F16/BF16/F64 fixture values were chosen so), hence equality;
            // JSONSerialization may miss a double's last bit, which rounding to Float undoes.
            XCTAssertEqual(got.tensor.values, (want["values"] as! [Double]).map { Float($0) }, got.name)
        }
        let types = Dictionary((try ck.tensors()).map { ($0.name, $0.tensor.storageType) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(types["student.module.head.last_layer.weight_g"], "torch.HalfStorage")
        XCTAssertEqual(types["student.module.head.mlp.0.bias"], "torch.BFloat16Storage")
        XCTAssertEqual(types["teacher.backbone.norm.weight"], "torch.DoubleStorage")
        XCTAssertEqual(types["student.module.backbone.layers.0.blocks.0.attn.relative_position_index"], "torch.LongStorage")
        XCTAssertEqual((try ck.tensors()).first { $0.name == "teacher.backbone.scale" }?.tensor.shape, [])
    }

    func testNonTensorLeavesAreKeptAsData() throws {
        let ck = try TorchCheckpoint(path: try torchFixture("state.pth"))
        guard case .dict(let root) = ck.root else { return XCTFail("root is not a dict") }
        func value(_ k: String) -> PickleValue? { root.items.first { if case .string(k) = $0.key { return true }; return false }?.value }
        guard case .int(7)? = value("epoch") else { return XCTFail("epoch") }
        guard case .object("argparse.Namespace", .dict(let args)?)? = value("args") else { return XCTFail("args") }
        XCTAssertEqual(args.items.count, 4)
        guard case .float(0.0005) = args.items[1].value, case .list(let depths) = args.items[3].value else { return XCTFail("args values") }
        XCTAssertEqual(depths.items.count, 4)
    }

    func testPicklesThatRunCodeAreRefusedByName() throws {
        for (file, global) in [("malicious.pth", "posix.system"), ("eval.pth", "__builtin__.eval")] {
            XCTAssertThrowsError(try TorchCheckpoint(path: try torchFixture(file))) {
                XCTAssertTrue("\($0)".contains("refused global \(global)"), "\($0)")
            }
        }
    }

    func testLegacyAndDamagedFilesAreRefusedWithAHint() throws {
        XCTAssertThrowsError(try TorchCheckpoint(path: try torchFixture("legacy.pth"))) {
            XCTAssertTrue("\($0)".contains("legacy (pre-1.6) torch.save file"), "\($0)")
        }
        let good = try Data(contentsOf: URL(fileURLWithPath: try torchFixture("state.pth")))
        let tmp = try TemporaryDirectory(prefix: "esvit-pth")
        let cut = tmp.path("cut.pth")
        try good.prefix(good.count / 2).write(to: URL(fileURLWithPath: cut))
        XCTAssertThrowsError(try TorchCheckpoint(path: cut)) { XCTAssertTrue("\($0)".contains("not a ZIP archive"), "\($0)") }
        XCTAssertThrowsError(try TorchCheckpoint(path: tmp.path("missing.pth"))) {
            XCTAssertTrue("\($0)".contains("cannot read"), "\($0)")
        }
        // One flipped byte inside a storage: the entry's CRC-32 names it.
        var flipped = good
        var at = flipped.range(of: Data("state/data/0".utf8))!.upperBound + 4   // past the name and the padding field's header
        while flipped[at] == UInt8(ascii: "Z") { at += 1 }                        // past torch's alignment padding
        flipped[at + 2] ^= 0x55                                                    // a byte of the first storage
        try flipped.write(to: URL(fileURLWithPath: tmp.path("flipped.pth")))
        XCTAssertThrowsError(try TorchCheckpoint(path: tmp.path("flipped.pth")).tensors()) {
            XCTAssertTrue("\($0)".contains("fails its CRC-32 check"), "\($0)")
        }
        // The format is told by four bytes: a legacy file is refused with its hint, while a
        // safetensors file whose header length is 640 (first bytes 80 02, like a pickle) opens.
        XCTAssertThrowsError(try WeightsFile.open(try torchFixture("legacy.pth"))) {
            XCTAssertTrue("\($0)".contains("legacy (pre-1.6) torch.save file"), "\($0)")
        }
        var header = Data(#"{"__metadata__":{}}"#.utf8)
        header.append(Data(repeating: 0x20, count: 640 - header.count))
        var st = Data([0x80, 0x02, 0, 0, 0, 0, 0, 0]); st.append(header)
        try st.write(to: URL(fileURLWithPath: tmp.path("h640.safetensors")))
        XCTAssertTrue(try WeightsFile.open(tmp.path("h640.safetensors")) is SafeTensorsFile)
    }

    /// Hand-written pickles: an opcode outside the subset, and a view past its storage.
    func testUnpicklerRefusalsOnHandWrittenPickles() throws {
        // PROTO 2, INST 'os\nsystem\n' (the text-mode call opcode) …
        XCTAssertThrowsError(try Unpickler.load(Data([0x80, 0x02, 0x69] + Array("os\nsystem\n".utf8) + [0x2E]), name: "p")) {
            XCTAssertTrue("\($0)".contains("refused pickle opcode 0x69"), "\($0)")
        }
        let ref = TorchTensorRef(storageKey: "0", storageType: "torch.FloatStorage", offset: 2, shape: [2, 2], stride: [2, 1])
        XCTAssertThrowsError(try TorchCheckpoint.materialise(ref, Data(count: 4 * 5), name: "t")) {
            XCTAssertTrue("\($0)".contains("reaches past its storage of 5 elements"), "\($0)")
        }
        let ok = try TorchCheckpoint.materialise(ref, Data((0..<6).flatMap { withUnsafeBytes(of: Float($0)) { Array($0) } }), name: "t")
        XCTAssertEqual(ok.values, [2, 3, 4, 5])
    }
}
