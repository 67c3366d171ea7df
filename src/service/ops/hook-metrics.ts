// Binds the hook handlers' metrics port (src/service/hooks/ports.ts) to the service's prom-client metrics.
// The port carries resource types, outcomes and timings only: never tokens or patient data.
import type { CardKind, FallbackOutcome, HookMetrics, PrefetchSource } from '../hooks/ports.ts';
import type { ServiceMetrics } from './metrics.ts';

export function hookMetricsPort(metrics: ServiceMetrics): HookMetrics & { inference(modelVersion: string, seconds: number): void } {
  return {
    fallbackRequest(resourceType: string, outcome: FallbackOutcome, seconds: number): void {
      metrics.fhirFallbackCalls.inc({ resource: resourceType });
      metrics.fhirFallbackLatency.observe({ resource: resourceType, outcome }, seconds);
      if (outcome !== 'ok') metrics.fhirFallbackFailures.inc({ resource: resourceType, reason: outcome });
    },
    prefetchKey(key: string, source: PrefetchSource): void {
      metrics.prefetchKeys.inc({ key, source });
    },
    cards(hook: string, kind: CardKind, count: number): void {
      metrics.cardsByKind.inc({ hook, kind }, count);
    },
    substitutions(hook: string, kind: 'diagnosis' | 'procedure', count: number): void {
      metrics.codeSubstitutions.inc({ hook, kind }, count);
    },
    inference(modelVersion: string, seconds: number): void {
      metrics.modelInference.observe({ model_version: modelVersion }, seconds);
    },
  };
}
