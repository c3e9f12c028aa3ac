// A persistent pool of worker threads for row-parallel kernels, plus the global thread setting
// (OpenBLAS runs single-threaded inside pool threads). Work is split into `threadCount` contiguous chunks; the caller's thread
// runs chunk 0, so `threads = 1` means no worker threads at all. Parallelism is per kernel call
// (rows, windows, samples), never per element. Each thread also owns a growable scratch arena
// for per-thread partial sums (e.g. LayerNorm weight gradients) so kernels do not allocate.
// Batch split (`Compute.split`): n threads each run a whole part of the work (e.g. half a batch
// through the backbone) with a one-thread pool of their own, read by `Compute.pool` on that
// thread; kernels then run inline there and never share a pool's buffers.
import Foundation
import COpenBLAS
import CCPUControl

public final class ThreadPool: @unchecked Sendable {
    public let threadCount: Int
    private var workers: [Thread] = []
    private let start: [DispatchSemaphore]
    private let done = DispatchSemaphore(value: 0)
    private var job: ((Int) -> Void)?
    private var scratchStore: [UnsafeMutableRawPointer?]
    private var scratchBytes: [Int]
    /// Grow-only buffers of the kernels called through this pool, filled on the calling thread
    /// before a parallel region: Wᵀ of a small layer (SmallGEMM) and ones for BLAS sums (Linear).
    var transposed = FloatBuffer(count: 0)
    var ones = FloatBuffer(count: 0)

    public init(threads: Int) {
        threadCount = max(1, threads)
        start = (0..<max(1, threads)).map { _ in DispatchSemaphore(value: 0) }
        scratchStore = Array(repeating: nil, count: max(1, threads))
        scratchBytes = Array(repeating: 0, count: max(1, threads))
        for t in 1..<threadCount {
            let th = Thread { self.workerLoop(t) }   // pools live for the process (see Compute)
            th.stackSize = 1 << 22
            th.name = "esvit-pool-\(t)"
            workers.append(th)
            th.start()
        }
    }

    private func workerLoop(_ t: Int) {
        ccpu_flush_denormals()
        while true {
            start[t].wait()
            job?(t)
            done.signal()
        }
    }

    /// Runs `body(thread)` once on every thread of the pool and waits for all of them.
    public func runOnAll(_ body: (Int) -> Void) {
        if threadCount == 1 { body(0); return }
        withoutActuallyEscaping(body) { escaping in
            job = escaping
            for t in 1..<threadCount { start[t].signal() }
            escaping(0)
            for _ in 1..<threadCount { done.wait() }
            job = nil
        }
    }

    /// Splits 0..<n into contiguous chunks, one per thread, and runs `body(range, thread)`.
    /// Small n (below `minPerThread` items per thread) runs inline on the caller.
    public func parallelFor(_ n: Int, minPerThread: Int = 1, _ body: (Range<Int>, Int) -> Void) {
        if n <= 0 { return }
        let t = min(threadCount, max(1, n / max(1, minPerThread)))
        if t == 1 { body(0..<n, 0); return }
        runOnAll { tid in
            guard tid < t else { return }
            let lo = n * tid / t, hi = n * (tid + 1) / t
            if lo < hi { body(lo..<hi, tid) }
        }
    }

    /// Per-thread scratch of at least `count` floats (contents undefined). Valid until the next
    /// call for the same thread with a larger size.
    public func scratch(_ thread: Int, _ count: Int) -> UnsafeMutablePointer<Float> {
        let bytes = max(count, 16) * 4
        if scratchBytes[thread] < bytes {
            scratchStore[thread]?.deallocate()
            scratchStore[thread] = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
            scratchBytes[thread] = bytes
        }
        return scratchStore[thread]!.assumingMemoryBound(to: Float.self)
    }
}

/// The process-wide compute setting: the kernel pool and the OpenBLAS thread count move together.
public enum Compute {
    nonisolated(unsafe) private static var shared = ThreadPool(threads: 1)
    /// Pools are created once per thread count and never destroyed: their workers park on
    /// semaphores, so switching back and forth (tests, benchmarks) costs nothing.
    nonisolated(unsafe) private static var pools: [Int: ThreadPool] = [1: shared]
    /// One-thread pools of the threads of a batch split (part t uses splitPools[t]), never destroyed.
    nonisolated(unsafe) private static var splitPools: [ThreadPool] = []
    /// The calling thread's own pool during a batch split (unset otherwise).
    private static let ownPool: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "pthread_key_create failed")
        return key
    }()

    /// The pool kernels split their work over: the thread's own one-thread pool inside a batch
    /// split, the process-wide pool otherwise.
    public static var pool: ThreadPool {
        if let p = pthread_getspecific(ownPool) { return Unmanaged<ThreadPool>.fromOpaque(p).takeUnretainedValue() }
        return shared
    }

    /// True on a thread running one part of a batch split.
    public static var inSplit: Bool { pthread_getspecific(ownPool) != nil }

    /// Runs `body(part)` for parts 0..<n at once, part t on thread t of the process-wide pool for
    /// n threads with a one-thread pool of its own (so every kernel inside runs inline on that
    /// thread, with buffers of its own). Call from the main thread, outside any split.
    public static func split(_ n: Int, _ body: (Int) -> Void) {
        precondition(!inSplit, "Compute.split does not nest")
        if n <= 1 { body(0); return }
        if pools[n] == nil { pools[n] = ThreadPool(threads: n) }
        while splitPools.count < n { splitPools.append(ThreadPool(threads: 1)) }
        let own = splitPools
        pools[n]!.runOnAll { t in
            pthread_setspecific(ownPool, Unmanaged.passUnretained(own[t]).toOpaque())
            body(t)
            pthread_setspecific(ownPool, nil)
        }
    }

    /// Sets the number of compute threads. OpenBLAS itself is kept single-threaded: the pool
    /// splits every GEMM (see Linear.swift). Call from the main thread, between kernel calls.
    public static func setThreads(_ n: Int) {
        ccpu_flush_denormals()             // the calling (main) thread computes chunk 0
        let n = max(1, n)
        if n != shared.threadCount {
            if pools[n] == nil { pools[n] = ThreadPool(threads: n) }
            shared = pools[n]!
        }
        openblas_set_num_threads(1)
    }

    /// The process-wide thread count (a batch split's threads each see a one-thread `pool`).
    public static var threads: Int { shared.threadCount }

    /// True when this thread flushes subnormals to zero (set by `setThreads`).
    public static var flushesDenormals: Bool { ccpu_flushing_denormals() != 0 }
}
