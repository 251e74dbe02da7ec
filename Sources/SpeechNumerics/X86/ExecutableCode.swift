#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Machine code copied into pages of its own and made executable (never writable and
/// executable at once: the pages are written, then switched to read + execute). The pages
/// live for the process: kernels are made once per shape and cached, so there is nothing to
/// free. `nil` where the system refuses executable memory (a hardened kernel, say); callers
/// then use the portable kernels.
final class ExecutableCode: @unchecked Sendable {
    // @unchecked: the pages are immutable once made executable.
    let entry: UnsafeRawPointer

    init?(_ code: [UInt8]) {
        #if os(Linux) || os(macOS)
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let size = (code.count + page - 1) / page * page
        guard size > 0, let memory = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              memory != MAP_FAILED else { return nil }
        code.withUnsafeBytes { memory.copyMemory(from: $0.baseAddress!, byteCount: code.count) }
        guard mprotect(memory, size, PROT_READ | PROT_EXEC) == 0 else {
            munmap(memory, size)
            return nil
        }
        entry = UnsafeRawPointer(memory)
        #else
        return nil
        #endif
    }
}
