import { SpanKind, SpanStatusCode, context, type Span } from "@opentelemetry/api";
import type {
  KyselyPlugin,
  OperationNode,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from "kysely";
import { tracingActive } from "../observability/tracing.js";
import { tracer } from "../observability/tracing-spans.js";

const OPERATIONS: Record<string, string> = {
  SelectQueryNode: "SELECT",
  InsertQueryNode: "INSERT",
  UpdateQueryNode: "UPDATE",
  DeleteQueryNode: "DELETE",
};

/** The first table a query names, for `db.collection.name` (never values: those are bound parameters). */
function tableOf(node: RootOperationNode): string | undefined {
  const n = node as unknown as Record<string, OperationNode | undefined> & { from?: { froms?: OperationNode[] } };
  const candidate = (n.into ?? n.table ?? n.from?.froms?.[0]) as { table?: { identifier?: { name?: string } } } | undefined;
  return candidate?.table?.identifier?.name;
}

/** The span of one query, named and tagged as {@link QueryTracingPlugin} names them. */
function startQuerySpan(operation: string, table: string | undefined): Span {
  return tracer().startSpan(
    table ? `${operation} ${table}` : operation,
    {
      kind: SpanKind.CLIENT,
      attributes: { "db.system.name": "sqlite", "db.operation.name": operation, ...(table ? { "db.collection.name": table } : {}) },
    },
    context.active(),
  );
}

/**
 * Runs a statement that bypasses the query builder (a cached prepared statement, here or on
 * a worker thread) inside the same kind of span the plugin gives builder queries, ended when
 * the statement settles; no span at all when tracing is off.
 */
export function tracedStatement<T>(operation: "SELECT" | "INSERT" | "UPDATE" | "DELETE", table: string, run: () => T | Promise<T>): Promise<T> {
  if (!tracingActive()) return Promise.resolve(run());
  const span = startQuerySpan(operation, table);
  const done = (result: T) => {
    if (Array.isArray(result) && result.length > 0) span.setAttribute("db.response.returned_rows", result.length);
    span.end();
    return result;
  };
  const failed = (err: unknown): never => {
    span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
    throw err;
  };
  try {
    return Promise.resolve(run()).then(done, failed);
  } catch (err) {
    return failed(err);
  }
}

/**
 * A span per SQL query (OpenTelemetry database conventions), as a child of whatever
 * span is active when the query is built: the request's, or the audit writer's.
 * The span carries the operation and the table, never the SQL's parameters, so no
 * prompt text or secret can reach a trace through it. Queries that fail or are only
 * compiled leave an unended span, which is dropped with the map entry.
 */
export class QueryTracingPlugin implements KyselyPlugin {
  private readonly spans = new WeakMap<object, Span>();

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    // No provider registered: no span to make (saves the table lookup on every query).
    const operation = tracingActive() ? OPERATIONS[args.node.kind] : undefined;
    if (operation) {
      const span = startQuerySpan(operation, tableOf(args.node));
      if (span.isRecording()) this.spans.set(args.queryId, span);
    }
    return args.node;
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    const span = this.spans.get(args.queryId);
    if (span) {
      this.spans.delete(args.queryId);
      const rows = args.result.rows?.length;
      if (typeof rows === "number" && rows > 0) span.setAttribute("db.response.returned_rows", rows);
      span.setStatus({ code: SpanStatusCode.UNSET });
      span.end();
    }
    return args.result;
  }
}
