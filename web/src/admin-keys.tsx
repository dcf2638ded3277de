// Admin keys: every API key with its spend, revocation, and a form that makes a
// key (createApiKey) and shows its secret this once, with a copy button.
import { useEffect, useState } from 'preact/hooks';
import {
  AdminKeysDocument, CreateApiKeyDocument, RevokeApiKeyDocument, type AdminKeysQuery,
} from '../../src/client/index.js';
import { api } from './api.js';
import { usd, when } from './format.js';

type FieldErrors = Partial<Record<'name' | 'expiresAt' | 'form', string>>;

function NewKeyForm({ onCreated }: { onCreated: () => void }) {
  const [name, setName] = useState('');
  const [admin, setAdmin] = useState(false);
  const [expires, setExpires] = useState('');
  const [errors, setErrors] = useState<FieldErrors>({});
  const [made, setMade] = useState<{ name: string; secret: string } | null>(null);
  const [copied, setCopied] = useState(false);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setMade(null);
    setCopied(false);
    const input = { name, admin, ...(expires ? { expiresAt: new Date(`${expires}T00:00:00Z`).toISOString() } : {}) };
    const r = await api().request(CreateApiKeyDocument, { input });
    setBusy(false);
    if (!r.ok) return setErrors({ form: r.error.message });
    const result = r.value.result;
    if (result.__typename === 'ApiKeyCreated') {
      setErrors({});
      setMade({ name: result.apiKey.name, secret: result.secret });
      setName('');
      setAdmin(false);
      setExpires('');
      return onCreated();
    }
    if (result.__typename === 'InvalidInputError') {
      const next: FieldErrors = {};
      for (const v of result.violations) {
        const field = v.field.replace(/^input\./, '');
        if (field === 'name' || field === 'expiresAt') next[field] ??= v.message;
        else next.form ??= `${v.field}: ${v.message}`;
      }
      return setErrors(next);
    }
    setErrors({ form: result.message });
  };

  const copy = async () => {
    if (!made) return;
    try {
      await navigator.clipboard.writeText(made.secret);
    } catch {
      // Without clipboard access (an insecure origin), select the text so the user can copy it.
      (document.getElementById('new-key-secret') as HTMLInputElement | null)?.select();
      document.execCommand('copy');
    }
    setCopied(true);
  };

  const fieldProps = (field: 'name' | 'expiresAt') => ({
    'aria-invalid': errors[field] ? ('true' as const) : undefined,
    'aria-describedby': errors[field] ? `key-${field}-error` : undefined,
  });
  return (
    <form class="key-form" onSubmit={submit} noValidate aria-labelledby="new-key-title">
      <h3 id="new-key-title">New key</h3>
      <div class="fields">
        <div class="field">
          <label for="key-name">Name</label>
          <input id="key-name" value={name} autoComplete="off" onInput={(e) => setName((e.target as HTMLInputElement).value)} {...fieldProps('name')} />
          {errors.name && <p id="key-name-error" class="field-error" role="alert">{errors.name}</p>}
        </div>
        <div class="field">
          <label for="key-expires">Expires (optional)</label>
          <input id="key-expires" type="date" value={expires} onChange={(e) => setExpires((e.target as HTMLInputElement).value)} {...fieldProps('expiresAt')} />
          {errors.expiresAt && <p id="key-expiresAt-error" class="field-error" role="alert">{errors.expiresAt}</p>}
        </div>
        <div class="field">
          <label for="key-admin">Admin key</label>
          <input id="key-admin" type="checkbox" checked={admin} onChange={(e) => setAdmin((e.target as HTMLInputElement).checked)} />
        </div>
      </div>
      {errors.form && <p class="field-error" role="alert">{errors.form}</p>}
      <button type="submit" disabled={busy}>Create key</button>
      {made && (
        <div class="secret" role="status">
          <label for="new-key-secret">The key "{made.name}": copy it now, it is shown only this once</label>
          <div class="secret-row">
            <input id="new-key-secret" readOnly value={made.secret} class="mono" onFocus={(e) => (e.target as HTMLInputElement).select()} />
            <button type="button" onClick={copy}>{copied ? 'Copied' : 'Copy'}</button>
          </div>
        </div>
      )}
    </form>
  );
}

export function AdminKeysPage({ isAdmin }: { isAdmin: boolean }) {
  const [keys, setKeys] = useState<AdminKeysQuery['apiKeys'] | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const load = () => void api().request(AdminKeysDocument, {}).then((r) => (r.ok ? setKeys(r.value.apiKeys) : setMessage(r.error.message)));
  useEffect(() => {
    if (isAdmin) load();
  }, [isAdmin]);
  if (!isAdmin) return <p role="alert">Only admin keys can manage API keys.</p>;
  const revoke = async (id: string, name: string) => {
    if (!confirm(`Revoke the key "${name}" for good?`)) return;
    const r = await api().request(RevokeApiKeyDocument, { id });
    setMessage(r.ok ? (r.value.result.__typename === 'ApiKeyRevoked' ? `Revoked ${name}.` : (r.value.result as { message: string }).message) : r.error.message);
    load();
  };
  return (
    <section aria-labelledby="keys-title">
      <h1 id="keys-title">API keys</h1>
      <NewKeyForm onCreated={load} />
      {message && <p role="status">{message}</p>}
      {keys && (
        <div class="scroll"><table id="keys-table">
          <thead><tr><th scope="col">Name</th><th scope="col">Prefix</th><th scope="col">Admin</th><th scope="col">Spent (month)</th><th scope="col">Spent (total)</th><th scope="col">Jobs (month)</th><th scope="col">State</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>{keys.map((k) => (
            <tr><td>{k.name}</td><td class="mono">{k.prefix}</td><td>{k.isAdmin ? 'yes' : 'no'}</td><td>{usd(k.usage.spentThisMonth)}</td><td>{usd(k.usage.spentTotal)}</td>
              <td>{k.usage.jobsThisMonth}</td><td>{k.revokedAt ? `revoked ${when(k.revokedAt)}` : k.expiresAt ? `active until ${when(k.expiresAt)}` : 'active'}</td>
              <td>{!k.revokedAt && <button type="button" onClick={() => revoke(k.id, k.name)}>Revoke</button>}</td></tr>
          ))}</tbody>
        </table></div>
      )}
    </section>
  );
}
