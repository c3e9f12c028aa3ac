// Shared helpers for the PyTorch fixture tests: locating fixtures and building a model with the
// name-generated weights (per-tensor closeness: ESTestAssertions.assertClose).
import Foundation
import ESKernels
import ESModel
import ESTestSupport

func fixture(_ name: String) throws -> SafeTensorsFile {
    guard let dir = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
        throw SafeTensorsError.io("Fixtures folder missing from the test bundle")
    }
    return try SafeTensorsFile(path: dir.appendingPathComponent(name + ".safetensors").path)
}

struct GeneratedModel {
    let table = ParameterTable()
    let model: SwinModel
    let params: FloatBuffer
    let grads: FloatBuffer

    /// `framed`: the table holds an entry before and one after the backbone (as EsViT's heads
    /// follow it), so the backbone's parameters are an inner range of the arena.
    init(_ cfg: SwinConfig, framed: Bool = false) {
        if framed { _ = table.add("before.weight", [40]) }
        model = SwinModel(config: cfg, table: table)
        if framed { _ = table.add("after.weight", [24]) }
        params = table.makeArena(); grads = table.makeArena()
        FixtureTensors.fillParameters(table, params.pointer)
    }
}

/// The fixtures' small test model (tools/reference/make_fixtures.py TINY).
let tinyFixtureConfig = SwinConfig(patchSize: 2, inChans: 3, embedDim: 12, depths: [2, 2], numHeads: [1, 2],
                                   windowSize: 4, constructSize: 24, dropPathRate: 0)
