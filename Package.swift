// swift-tools-version:5.9
// esvit-swift: EsViT self-supervised pretraining (Swin backbone, DINO view loss + EsViT region
// loss) in Swift, data-parallel over MPI on CPUs.
//
// Target graph (arrows are dependencies; the graph enforces the layering of docs/mpi-design.md §2):
//   COpenBLAS, CXSMM, CMPI, CJPEG, CZlib   system libraries (pkg-config openblas, libxsmm, ompi-c, libjpeg, zlib)
//   CCPUControl                 header-only: flush-to-zero control (MXCSR)
//   JPEGShim     -> CJPEG       C: libjpeg-turbo decode/encode with setjmp error handling
//   StopSignals                 C: records SIGTERM/SIGINT/SIGUSR1/2 for a graceful stop
//   ESKernels    -> COpenBLAS, CXSMM, CCPUControl   SIMD kernels, GEMM wrappers, thread pool, keyed random, named sums
//   ESKernelCases-> ESKernels   the kernel case table: inputs, Double references, tolerances (the kernel tests and `bench kernels`)
//   ESModel      -> ESKernels, CZlib   architectures, parameter table + arenas, Swin, the EsViT model configuration, safetensors (CRC-32 per tensor)
//   ESCheckpoint -> ESModel     the training-checkpoint format: keys, metadata, versions, validation, config round-trip
//   ESLoss       -> ESKernels   view + region losses on head outputs, centers (no MPI)
//   ESOptim      -> ESKernels, ESModel   AdamW over table entries, clipping, EMA, schedules
//   ESObjective  -> ESKernels, ESModel, ESLoss, ESOptim, ESCheckpoint   student/teacher pair, the step, its all-reduce sums
//   ESData       -> ESKernels, CZlib, JPEGShim   datasets (IDX, JPEG folders, the factory), sampler, crops
//   ESDistributed-> CMPI        Communicator (MPI and single-process), typed collectives, launch checks; the only MPI importer
//   ESOptions    -> ESModel, ESData, ArgumentParser   options shared by the commands (architecture, typed choices)
//   ESEval       -> ESKernels, ESModel, ESCheckpoint, ESData, ESDistributed, ESOptions   k-NN, linear probe, features, eval options
//   ESTrain      -> ESObjective, ESData, ESDistributed, ESEval, ESOptions, StopSignals (and below)
//                               pretrain options and presets, run plan, the data-parallel trainer, reporter, run folder and lock
//   ESTestSupport-> ESKernels, ESKernelCases, ESModel, ESCheckpoint   fixtures, comparison, finite differences
//   ESTestAssertions -> ESTestSupport   XCTest: the one tolerance assertion (test targets only)
//   ESBench      -> ESTrain, ESKernelCases, COpenBLAS (and below)   the benchmarks: timing, the sgemm roof, PyTorch peers
//   esvit        -> ESBench, ESTrain, ESEval, ESOptions and below: the commands (what each holds: docs/architecture.md)
import PackageDescription
import Foundation

// Optimisation: plain -O. Measured against -Ounchecked on `esvit bench swin` (swin_mini,
// batch 64, 2 threads, alternating runs): 374/381 vs 389/366 img/s, i.e. no difference, because
// the kernels already work on raw pointers; -O keeps our precondition() checks alive
// (-Ounchecked skips them silently). Never put side effects inside precondition()/assert().
//
// Target CPU: Swift's default x86-64 baseline has no FMA, so every SIMD `addingProduct` becomes
// per-lane fmaf() library calls (measured: the kernels ran ~5x slower). We build for `haswell`
// (AVX2 + FMA: Intel since 2013, every AMD Zen) by default. Override with the environment
// variable ESVIT_TARGET_CPU (e.g. `skylake-avx512`, `znver3`, or `generic` for the plain
// baseline on older CPUs / other architectures) when running `swift build`.
let targetCPU = ProcessInfo.processInfo.environment["ESVIT_TARGET_CPU"] ?? "haswell"
#if arch(x86_64)
let cpuFlags: [String] = targetCPU == "generic" ? [] : ["-target-cpu", targetCPU]
#else
let cpuFlags: [String] = targetCPU == "generic" || targetCPU == "haswell" ? [] : ["-target-cpu", targetCPU]
#endif
let argumentParser: Target.Dependency = .product(name: "ArgumentParser", package: "swift-argument-parser")
let fast: [SwiftSetting] = [.unsafeFlags(["-O", "-wmo"] + cpuFlags, .when(configuration: .release))]

let package = Package(
    name: "esvit-swift",
    platforms: [.macOS(.v13)],
    products: [.executable(name: "esvit", targets: ["esvit"])],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c",
                       providers: [.apt(["libopenmpi-dev"])]),
        .systemLibrary(name: "CJPEG", path: "Sources/CJPEG", pkgConfig: "libjpeg",
                       providers: [.apt(["libjpeg-dev"])]),
        .systemLibrary(name: "CXSMM", path: "Sources/CXSMM", pkgConfig: "libxsmm", providers: [.apt(["libxsmm-dev"])]),
        .systemLibrary(name: "CCPUControl", path: "Sources/CCPUControl"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "ESKernels", dependencies: ["COpenBLAS", "CXSMM", "CCPUControl"], swiftSettings: fast),
        .target(name: "ESKernelCases", dependencies: ["ESKernels"], swiftSettings: fast),
        .target(name: "ESModel", dependencies: ["ESKernels", "CZlib"], swiftSettings: fast),
        .target(name: "ESOptim", dependencies: ["ESKernels", "ESModel"], swiftSettings: fast),
        .target(name: "ESLoss", dependencies: ["ESKernels"], swiftSettings: fast),
        .target(name: "ESCheckpoint", dependencies: ["ESModel"], swiftSettings: fast),
        .target(name: "ESObjective", dependencies: ["ESKernels", "ESModel", "ESLoss", "ESOptim", "ESCheckpoint"], swiftSettings: fast),
        .target(name: "JPEGShim", dependencies: ["CJPEG"], cSettings: [.unsafeFlags(["-O2"])]),
        .target(name: "StopSignals"),
        .target(name: "ESData", dependencies: ["ESKernels", "CZlib", "JPEGShim"], swiftSettings: fast),
        .target(name: "ESDistributed", dependencies: ["CMPI"], swiftSettings: fast),
        .target(name: "ESOptions", dependencies: ["ESModel", "ESData", argumentParser], swiftSettings: fast),
        .target(name: "ESEval", dependencies: ["ESKernels", "ESModel", "ESCheckpoint", "ESData", "ESDistributed", "ESOptions", argumentParser],
                swiftSettings: fast),
        .target(name: "ESTrain", dependencies: ["ESKernels", "ESModel", "ESOptim", "ESLoss", "ESCheckpoint", "ESObjective", "ESData", "ESDistributed",
                                                "ESEval", "StopSignals", "ESOptions", argumentParser],
                swiftSettings: fast),
        .target(name: "ESTestSupport", dependencies: ["ESKernels", "ESKernelCases", "ESModel", "ESCheckpoint"], swiftSettings: fast),
        // Imports XCTest, so no executable may depend on it.
        .target(name: "ESTestAssertions", dependencies: ["ESTestSupport"]),
        .target(name: "ESBench", dependencies: ["COpenBLAS", "ESKernels", "ESKernelCases", "ESModel", "ESObjective", "ESData", "ESTrain"],
                swiftSettings: fast),
        .executableTarget(name: "esvit", dependencies: [
            "ESKernels", "ESModel", "ESData", "ESDistributed", "ESTrain", "ESEval", "ESOptions", "ESBench", argumentParser,
        ], swiftSettings: fast),
        .testTarget(name: "ESKernelsTests", dependencies: ["ESKernels", "ESKernelCases", "ESTestSupport", "ESTestAssertions"]),
        .testTarget(name: "ESDataTests", dependencies: ["ESData", "ESKernels", "ESTestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ESOptimTests", dependencies: ["ESOptim", "ESModel", "ESKernels"]),
        .testTarget(name: "ESObjectiveTests", dependencies: ["ESObjective", "ESCheckpoint", "ESLoss", "ESOptim", "ESModel", "ESKernels", "ESTestSupport",
                                                             "ESTestAssertions"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "ESTrainTests", dependencies: ["ESTrain", "ESObjective", "ESData", "ESDistributed", "ESModel", "ESKernels",
                                                         "ESTestSupport", "CZlib", argumentParser],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "ESEvalTests", dependencies: ["ESEval", "ESCheckpoint", "ESData", "ESDistributed", "ESModel", "ESKernels", "ESTestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "ESBenchTests", dependencies: ["ESBench", "ESModel", "ESKernels", "ESTestSupport"]),
        .testTarget(name: "ESCheckpointTests", dependencies: ["ESCheckpoint", "ESModel", "ESTestSupport"]),
        .testTarget(name: "ESModelTests", dependencies: ["ESModel", "ESKernels", "ESTestSupport", "ESTestAssertions"],
                    resources: [.copy("Fixtures")]),
    ]
)
