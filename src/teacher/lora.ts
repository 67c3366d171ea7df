// LoRA settings: which projections get low-rank adapters and how they are scaled. Defaults are the paper's.
import { z } from 'zod';

export const LORA_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;
export type LoraTarget = (typeof LORA_TARGETS)[number];

export const LoraConfig = z
  .object({
    rank: z.number().int().positive().default(8),
    alpha: z.number().positive().default(32),
    dropout: z.number().min(0).max(0.9).default(0.1),
    targets: z.array(z.enum(LORA_TARGETS)).min(1).default([...LORA_TARGETS]),
  })
  .strict();
export type LoraConfig = z.infer<typeof LoraConfig>;

export const DEFAULT_LORA: LoraConfig = LoraConfig.parse({});

/** PEFT's scaling: the adapter's contribution is (alpha / rank) * x A B. */
export function loraScale(c: LoraConfig): number {
  return c.alpha / c.rank;
}

/** Parses `q_proj,v_proj` (or `all`) from a command line. */
export function parseLoraTargets(text: string): LoraTarget[] {
  if (text.trim() === 'all') return [...LORA_TARGETS];
  const out: LoraTarget[] = [];
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!(LORA_TARGETS as readonly string[]).includes(part)) {
      throw new Error(`unknown LoRA target "${part}" (expected some of ${LORA_TARGETS.join(', ')} or "all")`);
    }
    out.push(part as LoraTarget);
  }
  if (out.length === 0) throw new Error('no LoRA targets given');
  return out;
}
