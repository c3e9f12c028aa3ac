// safetensors: round trip (streamed to several files: the same bytes as serialised in memory), and every malformed or mismatched file rejected with a message that
// names the problem (never a crash): truncated, bad header length, not JSON, offsets outside
// the data, overlapping tensors, size/shape disagreement, unknown dtype, and model mismatches
// (missing / unexpected / wrong-shape keys) through the prefix-aware loader.
import XCTest
import ESKernels
import ESModel
import ESTestSupport

final class SafeTensorsTests: XCTestCase {
    var tmp: TemporaryDirectory!
    var dir: URL { tmp.url }

    override func setUpWithError() throws { tmp = try TemporaryDirectory(prefix: "esvit-st") }
    override func tearDown() { tmp = nil }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// A hand-made file: header JSON text + raw data bytes.
    func raw(_ name: String, header: String, data: [UInt8], lengthOverride: UInt64? = nil) -> String {
        var bytes = [UInt8]()
        var n = lengthOverride ?? UInt64(header.utf8.count)
        withUnsafeBytes(of: &n) { bytes += $0 }
        bytes += Array(header.utf8) + data
        let p = path(name)
        _ = FileManager.default.createFile(atPath: p, contents: Data(bytes))
        return p
    }

    func expectError(_ p: String, containing words: [String], file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try SafeTensorsFile(path: p)
            XCTFail("\(p) was accepted", file: file, line: line)
        } catch {
            let msg = "\(error)"
            for w in words { XCTAssertTrue(msg.contains(w), "message '\(msg)' lacks '\(w)'", file: file, line: line) }
        }
    }

    func testRoundTripWithMetadataAndPrefix() throws {
        let table = ParameterTable()
        let model = SwinModel(config: tinyFixtureConfig, table: table)
        let params = table.makeArena()
        model.initialize(params.pointer, table: table, seed: 3)
        var w = SafeTensorsWriter()
        w.metadata = ["format": "esvit", "arch": "tiny"]
        Weights.add(table, params.pointer, to: &w, filePrefix: "teacher.backbone.", borrowing: true)
        w.add("teacher.backbone.layers.0.blocks.0.attn.relative_position_index", shape: [16, 16],
              int64: RelativePosition.index(windowSize: 4).map(Int64.init))
        w.add("teacher.head.extra", shape: [2], floats: [1, 2])
        try w.write(to: [path("w.safetensors"), path("copy.safetensors")])
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("w.safetensors.tmp")), "temp file renamed away")
        // Streamed (borrowed arena, owned extras) to two files: each holds exactly the bytes serialised in memory.
        let bytes = try w.serialized()
        XCTAssertTrue(try Data(contentsOf: URL(fileURLWithPath: path("w.safetensors"))) == bytes)
        XCTAssertTrue(try Data(contentsOf: URL(fileURLWithPath: path("copy.safetensors"))) == bytes)
        let f = try SafeTensorsFile(path: path("w.safetensors"))
        XCTAssertEqual(f.metadata["arch"], "tiny")
        let back = table.makeArena()
        try Weights.load(f, table: table, into: back.pointer, filePrefix: "teacher.backbone.")
        XCTAssertEqual(memcmp(back.pointer, params.pointer, table.totalCount * 4), 0)
        // Initialisation sanity: LayerNorm 1/0, trunc-normal std ≈ 0.02, conv within ±1/√12.
        let qkv = table.entry("layers.1.blocks.0.attn.qkv.weight")!
        let vals = (0..<qkv.count).map { Double(params[qkv.offset + $0]) }
        let std = (vals.reduce(0) { $0 + $1 * $1 } / Double(vals.count)).squareRoot()
        XCTAssertEqual(std, 0.02, accuracy: 0.002)
        XCTAssertEqual(params[table.entry("norm.weight")!.offset], 1)
        let conv = table.entry("patch_embed.proj.weight")!
        XCTAssertTrue((0..<conv.count).allSatisfy { abs(params[conv.offset + $0]) <= 1 / Float(12).squareRoot() })
    }

    func testMalformedFilesAreRejectedWithReasons() {
        let ok = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}"
        expectError(raw("short", header: "", data: [], lengthOverride: 0), containing: ["header length 0"])
        _ = FileManager.default.createFile(atPath: path("tiny"), contents: Data([1, 2, 3]))
        expectError(path("tiny"), containing: ["too short"])
        expectError(raw("hugelen", header: ok, data: [UInt8](repeating: 0, count: 8), lengthOverride: 1 << 40), containing: ["header length"])
        expectError(raw("notjson", header: "{not json", data: []), containing: ["not a JSON object"])
        expectError(raw("outside", header: "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", data: [UInt8](repeating: 0, count: 8)),
                    containing: ["tensor a", "outside"])
        expectError(raw("size", header: "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", data: [UInt8](repeating: 0, count: 8)),
                    containing: ["tensor a", "needs 12 bytes"])
        expectError(raw("dtype", header: "{\"a\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", data: [UInt8](repeating: 0, count: 8)),
                    containing: ["unknown dtype Q4"])
        expectError(raw("overlap", header: "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                        data: [UInt8](repeating: 0, count: 12)), containing: ["overlap"])
        expectError(raw("neg", header: "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", data: [UInt8](repeating: 0, count: 8)),
                    containing: ["non-negative"])
        expectError(path("does-not-exist"), containing: ["no such file"])
        // A valid file truncated in its data section.
        let good = raw("good", header: ok, data: [UInt8](repeating: 0, count: 8))
        XCTAssertNoThrow(try SafeTensorsFile(path: good))
        let cut = Data(FileManager.default.contents(atPath: good)!.dropLast(3))
        _ = FileManager.default.createFile(atPath: path("cut"), contents: cut)
        expectError(path("cut"), containing: ["tensor a", "outside"])
    }

    func testModelMismatchListsKeys() throws {
        let table = ParameterTable()
        _ = SwinModel(config: tinyFixtureConfig, table: table)
        let params = table.makeArena()
        var w = SafeTensorsWriter()
        for e in table.entries where e.key != "norm.bias" {
            let shape = e.key == "norm.weight" ? [e.count + 1] : e.shape
            let tmp = FloatBuffer(count: shape.reduce(1, *))
            w.add(e.key, shape: shape, floats: tmp.pointer)
        }
        w.add("head.mlp.0.weight", shape: [1], floats: [0])
        try w.write(to: path("m.safetensors"))
        let f = try SafeTensorsFile(path: path("m.safetensors"))
        XCTAssertThrowsError(try Weights.load(f, table: table, into: params.pointer)) { error in
            let msg = "\(error)"
            XCTAssertTrue(msg.contains("missing (1): norm.bias"), msg)
            XCTAssertTrue(msg.contains("unexpected (1): head.mlp.0.weight"), msg)
            XCTAssertTrue(msg.contains("norm.weight: file has [25], model needs [24]"), msg)
        }
        XCTAssertTrue((0..<table.totalCount).allSatisfy { params[$0] == 0 }, "nothing loaded on mismatch")
    }
}
