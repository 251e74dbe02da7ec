import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import ServiceLifecycle
import DeepSpeech

/// `deepspeech serve`: one loaded model behind the HTTP routes (``HTTPRoutes``), the
/// WebSocket stream (``StreamingRoute``) and, when asked, the Wyoming protocol
/// (``WyomingService``).
///
/// Runs until SIGTERM or SIGINT, then shuts down gracefully: the ports stop accepting, and
/// requests already accepted are answered before the process exits.
public struct SpeechServer: Sendable {
    public let service: TranscriptionService

    public init(model: SpeechModel, configuration: ServerConfiguration) throws {
        service = try TranscriptionService(model: model, configuration: configuration)
    }

    /// Serves until a shutdown signal. `log` gets one line per port when it is listening
    /// ("listening on http://127.0.0.1:8080", "wyoming listening on tcp://127.0.0.1:10300").
    public func run(log: @escaping @Sendable (String) -> Void) async throws {
        let configuration = service.configuration
        var logger = Logger(label: "deepspeech-serve")
        logger.logLevel = .warning

        let router = Router()
        if let origin = configuration.corsOrigin {
            let allowed: CORSMiddleware<BasicRequestContext>.AllowOriginExtended = origin == "*" ? .all : .custom(origin)
            router.add(middleware: CORSMiddleware(allowOrigin: allowed))
        }
        router.add(middleware: JSONErrorMiddleware())
        HTTPRoutes(service: service).register(on: router)
        let streaming = StreamingRoute(service: service)
        router.get(RouterPath(StreamingRoute.path)) { request, _ in streaming.plainRequest(request) }

        let idle = TimeAmount.milliseconds(Int64(configuration.idleTimeout * 1000))
        let host = configuration.host
        let app = Application(
            router: router,
            server: HTTPServerBuilder { responder in
                HeadDeadlineChannel(
                    inner: HTTP1WebSocketUpgradeChannel(
                        responder: responder,
                        configuration: .init(http1: .init(idleTimeout: idle), ws: .init(maxFrameSize: 4 << 20)),
                        shouldUpgrade: { request, _, _ in streaming.shouldUpgrade(request) }),
                    limit: idle)
            },
            configuration: .init(address: .hostname(host, port: configuration.port), serverName: "swift-deepspeech"),
            onServerRunning: { channel in log("listening on http://\(host):\(channel.localAddress?.port ?? configuration.port)") },
            logger: logger)

        var services: [any Service] = [app]
        if let port = configuration.wyomingPort {
            services.append(WyomingService(service: service, host: host, port: port,
                                           onListening: { log("wyoming listening on tcp://\(host):\($0)") }))
        }
        let group = ServiceGroup(services: services, gracefulShutdownSignals: [.sigterm, .sigint], cancellationSignals: [],
                                 logger: logger)
        try await group.run()
    }
}

/// Errors the router itself raises (no such route: 404) answered in the same JSON shape as
/// the routes' own.
struct JSONErrorMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            let message = error.status == .notFound ? "no route \(request.method) \(request.uri.path)" : (error.body ?? error.status.reasonPhrase)
            let failure = ServerError(error.status, message, cause: "http")
            return HTTPRoutes.response(error.status, JSONText.encode(failure.openAIBody), type: "application/json")
        }
    }
}
