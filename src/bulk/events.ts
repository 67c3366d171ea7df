// Typed progress of a Bulk Data export. The client emits; reporters (CLI bar, logs, queue progress) subscribe.

export type ExportLevel = 'system' | 'patient' | 'group';

export type ExportEvent =
  | { type: 'token'; cached: boolean; expiresIn: number }
  | { type: 'kick-off'; url: string; statusUrl: string }
  | { type: 'status'; attempt: number; progress?: string; retryAfterMs: number; elapsedMs: number }
  | { type: 'manifest'; files: number; errorFiles: number; requiresAccessToken: boolean; transactionTime: string }
  | { type: 'download-start'; file: string; resourceType: string; resumeFrom: number }
  | { type: 'download-progress'; file: string; bytes: number; totalBytes?: number }
  | { type: 'download-retry'; file: string; attempt: number; reason: string; delayMs: number }
  | { type: 'download-end'; file: string; bytes: number; lines: number }
  | { type: 'error-file'; file: string; issues: number }
  | { type: 'cancelled'; statusUrl: string }
  | { type: 'complete'; files: number; bytes: number; lines: number; elapsedMs: number };

export type ExportListener = (event: ExportEvent) => void;
