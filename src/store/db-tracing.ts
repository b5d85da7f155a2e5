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
      const table = tableOf(args.node);
      const span = tracer().startSpan(
        table ? `${operation} ${table}` : operation,
        {
          kind: SpanKind.CLIENT,
          attributes: { "db.system.name": "sqlite", "db.operation.name": operation, ...(table ? { "db.collection.name": table } : {}) },
        },
        context.active(),
      );
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
