// Helpers shared by the benchmark executables: arguments, CPU pinning, peak memory.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The value after `name` on the command line, if any.
public func argument(_ name: String) -> String? {
    let args = CommandLine.arguments
    guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
    return args[i + 1]
}

/// Re-runs this executable under `taskset -c cpu` (once) and exits with its status, so that it
/// and every process it starts stay on one core. Single-threaded BLAS too.
public func pinToCore(_ cpu: String) {
    guard ProcessInfo.processInfo.environment["DS_BENCH_PINNED"] == nil else { return }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/taskset")
    process.arguments = ["-c", cpu, Bundle.main.executablePath ?? CommandLine.arguments[0]] + CommandLine.arguments.dropFirst()
    var environment = ProcessInfo.processInfo.environment
    environment["DS_BENCH_PINNED"] = "1"
    environment["OPENBLAS_NUM_THREADS"] = "1"
    process.environment = environment
    do {
        try process.run()
        process.waitUntilExit()
        exit(process.terminationStatus)
    } catch {
        print("benchmark: cannot run taskset (\(error)); timing without pinning")
    }
}

/// Peak resident memory of this process (or of its finished children), in MB.
public func peakRSSMegabytes(children: Bool = false) -> Double {
    var usage = rusage()
    getrusage(children ? RUSAGE_CHILDREN.rawValue : RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024   // ru_maxrss is in KiB on Linux
}
