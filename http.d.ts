// Types of taskloom/http: the task registry's HTTP API.
import type { IncomingMessage, ServerResponse, Server } from 'node:http'
import type { Executor } from './index.js'

/** Options of `createHandler(ex, options)`. */
export interface HandlerOptions {
  /**
   * A bearer token (at least 8 characters) every route but `GET /health` and the
   * dashboard's static files requires, as `Authorization: Bearer <token>`; compared in
   * constant time. No token: no check (but a browser's cross-site POST or DELETE is
   * refused with 403 either way).
   */
  token?: string
  /**
   * CORS for browsers on other origins. Without it no CORS headers are sent, and a POST
   * or DELETE from another origin is refused (403).
   */
  cors?: { origin: '*' | string | string[] }
  /** The largest request body in bytes; larger ones get a 413. Default 1 MB. */
  bodyLimit?: number
  /**
   * A path prefix the routes live under when the framework does not strip it (Fastify's
   * `prefix`, a Koa router): `'/tasks-api'` serves `/tasks-api/api/v1/tasks`; other paths
   * go to `next()` (or 404). Under Express, `app.use('/tasks-api', handler)` needs none.
   */
  basePath?: string
  /** Where internal errors go, with the request id a 500 answer carries. Default `console.error`. */
  logger?: (message: string, error: unknown) => void
}

/** Options of `serve(ex, options)`. */
export interface ServeOptions extends HandlerOptions {
  /** Default `'127.0.0.1'`. A host that is not loopback is refused without a `token`. */
  host?: string
  /** Default 8000; 0 picks a free port. */
  port?: number
}

/** A running server of `serve()`. */
export interface HttpServer {
  /** `http://127.0.0.1:8000` */
  readonly url: string
  readonly port: number
  readonly server: Server
  /** Stops listening and closes every connection (open event streams too). */
  close(): Promise<void>
}

/**
 * The API as a request handler for `node:http`, or as middleware in Express, Connect,
 * Fastify or Koa (see the README's HTTP API section). Under Express a path it does not
 * serve goes to `next()`; a body `express.json()` parsed is used as it is.
 *
 * Routes (chapkit's, then taskloom's): `GET /health`, `GET /api/v1/tasks[?tags=a,b]`,
 * `GET /api/v1/tasks/{name}`, `POST /api/v1/tasks/{name}/$execute`, `GET /api/v1/jobs`,
 * `GET|DELETE /api/v1/jobs/{id}`, `GET /api/v1/jobs/{id}/$stream`,
 * `GET /api/v1/artifacts?task=<id>`, `GET /api/v1/artifacts/{id}`,
 * `POST /api/v1/jobs/{id}/$retry|$remove`, `POST /api/v1/jobs/$clean`,
 * `GET /api/v1/counts`, `GET /api/v1/queues`, `POST /api/v1/queues/{name}/$pause|$resume|$drain`,
 * `GET /api/v1/schedules`, `POST /api/v1/schedules/{id}/$pause|$resume`, `GET /metrics`,
 * `GET /api/v1/openapi.json`; `GET /api/v1/jobs` takes `order=newest`.
 *
 * The dashboard: `GET /ui/` (its page and files, no token needed: they hold no data) and
 * its reads `GET /ui/api/overview`, `/ui/api/events` (server-sent event batches),
 * `/ui/api/tasks/{id}`, `/ui/api/find?q=<id or key>` (behind the token).
 */
export declare function createHandler(
  ex: Executor,
  options?: HandlerOptions,
): (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void

/** Serves the API on a server of its own; resolves once it listens. */
export declare function serve(ex: Executor, options?: ServeOptions): Promise<HttpServer>
