#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory mapping of a whole file, unmapped when released. Models read their
/// tables straight from it, without copying.
public final class MappedFile: @unchecked Sendable {
    // @unchecked: the mapping is read-only (PROT_READ) and lives as long as the object.
    public let path: String
    public let bytes: UnsafeRawBufferPointer
    private let mapped: Bool

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw MappedFileError(path: path, problem: "cannot open the file (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw MappedFileError(path: path, problem: "cannot stat the file") }
        if (info.st_mode & S_IFMT) == S_IFDIR { throw MappedFileError(path: path, problem: "it is a directory") }
        let size = Int(info.st_size)
        guard size > 0 else { throw MappedFileError(path: path, problem: "the file is empty") }
        guard let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), address != MAP_FAILED else {
            throw MappedFileError(path: path, problem: "cannot map the file (\(String(cString: strerror(errno))))")
        }
        bytes = UnsafeRawBufferPointer(start: address, count: size)
        mapped = true
    }

    /// Bytes built in memory, held like a mapping (16-byte aligned).
    public init(copying source: [UInt8], path: String) {
        self.path = path
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, source.count), alignment: 16)
        source.withUnsafeBytes { buffer.copyMemory(from: $0) }
        bytes = UnsafeRawBufferPointer(start: buffer.baseAddress, count: source.count)
        mapped = false
    }

    deinit {
        if mapped { munmap(UnsafeMutableRawPointer(mutating: bytes.baseAddress), bytes.count) }
        else { UnsafeMutableRawPointer(mutating: bytes.baseAddress)?.deallocate() }
    }
}

/// A file that cannot be opened or mapped: names the file and the reason.
public struct MappedFileError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let problem: String
    public init(path: String, problem: String) {
        self.path = path
        self.problem = problem
    }
    public var description: String { "\(path): \(problem)" }
}
