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

    /// DINO/EsViT training checkpoints hold numpy.float64 schedule values in the optimizer's
    /// param_groups: read as plain values (no code runs) under numpy 1's and numpy 2's module
    /// names, with every tensor still there, teacher included.
    func testNumpyScalarsInParamGroupsReadUnderBothModuleNames() throws {
        for module in ["numpy.core", "numpy._core"] {
            let ck = try TorchCheckpoint(path: try torchFixture("numpy_scalars-\(module).pth"))
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: try torchFixture("numpy_scalars-\(module).json")))) as! [String: Any]
            XCTAssertEqual(json["module"] as? String, module)
            let want = json["tensors"] as! [[String: Any]]
            XCTAssertEqual(ck.refs.map(\.name), want.map { $0["name"] as! String }, module)
            XCTAssertTrue(ck.refs.contains { $0.name.hasPrefix("teacher.") }, module)
            for w in want {
                XCTAssertEqual(try ck.tensor(w["name"] as! String).values, (w["values"] as! [Double]).map { Float($0) }, module)
            }
            func at(_ v: PickleValue, _ key: String) -> PickleValue? {
                guard case .dict(let d) = v else { return nil }
                return d.items.first { if case .string(key) = $0.key { return true }; return false }?.value
            }
            guard let opt = at(ck.root, "optimizer"), case .list(let groups)? = at(opt, "param_groups") else { return XCTFail("\(module): param_groups") }
            let wantGroups = json["param_groups"] as! [[String: String]]   // float64 bit patterns in hex
            XCTAssertEqual(groups.items.count, wantGroups.count)
            for (g, w) in zip(groups.items, wantGroups) {
                guard case .float(let lr)? = at(g, "lr"), case .float(let wd)? = at(g, "weight_decay") else { return XCTFail("\(module): lr/wd not plain floats") }
                XCTAssertEqual(lr.bitPattern, UInt64(w["lr"]!, radix: 16), module)                 // bit for bit: the float64's 8 bytes
                XCTAssertEqual(wd.bitPattern, UInt64(w["weight_decay"]!, radix: 16), module)
            }
            guard let extra = at(ck.root, "extra"), case .float(-1.25)? = at(extra, "f32"), case .int(-7)? = at(extra, "i64"),
                  case .int(200)? = at(extra, "u8"), case .bool(true)? = at(extra, "flag") else { return XCTFail("\(module): float32/int64/uint8/bool scalars") }
        }
    }

    /// The scalar path still runs nothing: a dtype with another encoding of its bytes, or the
    /// scalar constructor fed something other than (dtype, bytes), is refused by name.
    func testNumpyScalarPicklesOutsideTheirShapeAreRefused() throws {
        func pickle(_ body: [UInt8]) -> Data { Data([0x80, 0x02] + body + [0x2E]) }
        func global(_ m: String, _ n: String) -> [UInt8] { [0x63] + Array("\(m)\n\(n)\n".utf8) }
        func text(_ s: String) -> [UInt8] { [0x8C, UInt8(s.utf8.count)] + Array(s.utf8) }
        // _codecs.encode(u'x', 'utf-16'): only latin-1 text is bytes.
        XCTAssertThrowsError(try Unpickler.load(pickle(global("_codecs", "encode") + text("x") + text("utf-16") + [0x86, 0x52]), name: "p")) {
            XCTAssertTrue("\($0)".contains("_codecs.encode with arguments other than (text, 'latin1')"), "\($0)")
        }
        // numpy.core.multiarray.scalar(u'f8', u'x'): not a dtype and bytes.
        XCTAssertThrowsError(try Unpickler.load(pickle(global("numpy.core.multiarray", "scalar") + text("f8") + text("x") + [0x86, 0x52]), name: "p")) {
            XCTAssertTrue("\($0)".contains("needs a dtype and its bytes"), "\($0)")
        }
        // Other numpy globals stay refused.
        XCTAssertThrowsError(try Unpickler.load(pickle(global("numpy.core.multiarray", "_reconstruct") + [0x29, 0x52]), name: "p")) {
            XCTAssertTrue("\($0)".contains("refused global numpy.core.multiarray._reconstruct"), "\($0)")
        }
    }
}
