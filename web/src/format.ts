export function usd(money: { usd: string } | null | undefined): string {
  return money ? `$${money.usd}` : '—';
}

export function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return `${d.toISOString().slice(0, 10)} ${d.toISOString().slice(11, 19)} UTC`;
}

export const MODEL_LABELS: Record<string, string> = {
  FACESWAP_V4: 'faceswap-v4',
  FACESWAP_V3_MULTI: 'faceswap-v3-multi',
  FACESWAP_V2: 'faceswap-v2',
  FACESWAP_COMIC: 'faceswap-comic',
  BODY_SWAP: 'ai-body-swap',
};

export const STATUSES = ['QUEUED', 'SUBMITTED', 'PROCESSING', 'COMPLETED', 'FAILED', 'CANCELED'] as const;

export function go(hash: string): void {
  location.hash = hash;
}
