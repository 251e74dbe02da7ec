import Foundation
import Hummingbird
import DeepSpeech

/// Why a request failed: the HTTP status, a message naming the problem, and the machine
/// readable fields of OpenAI's error object (`type`, `param`, `code`).
///
/// Every route answers errors as JSON. The OpenAI and whisper.cpp routes use OpenAI's shape,
/// `{"error": {"message", "type", "param", "code"}}`; the deepspeech.pytorch route its own
/// `{"status": "error", "message"}`.
public struct ServerError: Error, CustomStringConvertible, Sendable {
    public var status: HTTPResponse.Status
    public var message: String
    public var type: String
    public var param: String?
    public var code: String?
    /// Seconds after which to try again (503 answers).
    public var retryAfter: Int?
    /// The metrics label: why it failed ("bad_audio", "overloaded", …).
    public var cause: String

    public init(_ status: HTTPResponse.Status, _ message: String, cause: String, type: String = "invalid_request_error",
                param: String? = nil, code: String? = nil, retryAfter: Int? = nil) {
        self.status = status
        self.message = message
        self.cause = cause
        self.type = type
        self.param = param
        self.code = code
        self.retryAfter = retryAfter
    }

    public var description: String { "\(status.code) \(message)" }

    static func badRequest(_ message: String, param: String? = nil, cause: String = "bad_request") -> Self {
        ServerError(.badRequest, message, cause: cause, param: param)
    }

    static func tooLarge(_ message: String) -> Self {
        ServerError(.contentTooLarge, message, cause: "too_large", code: "content_too_large")
    }

    static let overloaded = ServerError(.serviceUnavailable, "the server is busy: every worker is transcribing and the queue is full; retry shortly",
                                        cause: "overloaded", type: "server_error", code: "overloaded", retryAfter: 1)

    static let unauthorized = ServerError(.unauthorized, "missing or wrong API key: send 'Authorization: Bearer <key>'",
                                          cause: "unauthorized", code: "invalid_api_key")

    static let timedOut = ServerError(.gatewayTimeout, "the request took longer than the server's --request-timeout",
                                      cause: "timeout", type: "server_error", code: "timeout")

    static let shuttingDown = ServerError(.serviceUnavailable, "the server is shutting down", cause: "shutting_down",
                                          type: "server_error", code: "shutting_down", retryAfter: 5)

    /// Audio that could not be read: the message is the reader's (which names the upload).
    static func badAudio(_ error: Error, param: String? = "file") -> Self {
        ServerError(.badRequest, "\(error)", cause: "bad_audio", param: param, code: "invalid_audio")
    }

    /// Anything else thrown while handling a request, as a server error without a trace.
    static func wrapping(_ error: Error) -> Self {
        if let error = error as? ServerError { return error }
        if let error = error as? AudioError { return badAudio(error) }
        if let error = error as? HTTPError {
            if error.status == .contentTooLarge { return tooLarge("the request body is larger than the server accepts") }
            return ServerError(error.status, error.body ?? "\(error.status.reasonPhrase)", cause: "http")
        }
        return ServerError(.internalServerError, "\(error)", cause: "internal", type: "server_error")
    }

    /// `{"error": {"message", "type", "param", "code"}}`.
    var openAIBody: [String: Any] {
        ["error": ["message": message, "type": type, "param": param as Any? ?? NSNull(), "code": code as Any? ?? NSNull()]]
    }
}
