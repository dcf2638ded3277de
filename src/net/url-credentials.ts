// user:pass@ in a URL a client gives (an image field, a webhook endpoint):
// refused where it is given, with one rule name, because such a URL is
// stored, shown back (job parameters, endpoint lists) and sent on.

export function credentialsViolation(url: URL): { rule: 'no-credentials'; message: string } | null {
  return url.username || url.password ? { rule: 'no-credentials', message: 'must not carry a user name or password (user:pass@)' } : null;
}
