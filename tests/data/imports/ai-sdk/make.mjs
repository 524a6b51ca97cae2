// Writes the spans the Vercel AI SDK (package `ai`) records for one multi-step customer-service turn, as JSON:
// real spans from the real SDK and OpenTelemetry's SDK; only the language model is a mock (no network).
import { generateText, tool, stepCountIs } from "ai";
import { MockLanguageModelV2 } from "ai/test";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { context } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { z } from "zod";
import { writeFileSync } from "node:fs";

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());  // so spans nest
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer("cstui-import-corpus");

const steps = [
  [{ type: "tool-call", toolCallId: "call_1", toolName: "get_order", input: JSON.stringify({ orderId: "A1" }) }],
  [{ type: "tool-call", toolCallId: "call_2", toolName: "get_order", input: JSON.stringify({ orderId: "B2" }) }],
  [{ type: "tool-call", toolCallId: "call_3", toolName: "cancel_order", input: JSON.stringify({ orderId: "B2" }) }],
  [{ type: "text", text: "Order A1 has shipped. B2 is still being packed, but I could not cancel it: the warehouse system refused. I have not cancelled anything." }],
];
let n = 0;
const model = new MockLanguageModelV2({
  doGenerate: async () => {
    const content = steps[n++];
    return { content, finishReason: content[0].type === "tool-call" ? "tool-calls" : "stop",
             usage: { inputTokens: 50 + 10 * n, outputTokens: 12, totalTokens: 62 + 10 * n }, warnings: [] };
  },
});
const orders = { A1: { orderId: "A1", status: "shipped" }, B2: { orderId: "B2", status: "packing" } };

await generateText({
  model,
  system: "You are Acme's support agent. Never promise a refund you have not issued.",
  prompt: "Where are my orders A1 and B2? And please cancel B2.",
  tools: {
    get_order: tool({ description: "Look up an order", inputSchema: z.object({ orderId: z.string() }),
                      execute: async ({ orderId }) => orders[orderId] }),
    cancel_order: tool({ description: "Cancel an order", inputSchema: z.object({ orderId: z.string() }),
                         execute: async () => { throw new Error("warehouse system refused the cancellation"); } }),
  },
  stopWhen: stepCountIs(5),
  experimental_telemetry: { isEnabled: true, tracer, functionId: "support-agent",
                            metadata: { sessionId: "conv-42" } },
});

const spans = exporter.getFinishedSpans().map((s) => ({
  name: s.name, kind: s.kind, spanContext: s.spanContext(), parentSpanId: s.parentSpanContext?.spanId,
  startTime: s.startTime, endTime: s.endTime, status: s.status, attributes: s.attributes, events: s.events,
  instrumentationScope: s.instrumentationScope,
}));
writeFileSync(process.argv[2], JSON.stringify(spans, null, 2) + "\n");
console.log(`${spans.length} spans`);
