// The Swapyard dashboard: sign in with an API key, then history, job pages, new
// swaps, spend, webhooks and (admin keys) API keys, all over the typed client (src/client). Hash routes, so the
// server serves one page.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, signIn, signOut, storedKey } from './api.js';
import { Gallery } from './gallery.js';
import { JobPage } from './job-page.js';
import { NewSwap } from './new-swap.js';
import { SpendPage } from './spend.js';
import { AdminKeysPage } from './admin-keys.js';
import { WebhooksPage } from './webhooks.js';

function useHash(): string {
  const [hash, setHash] = useState(location.hash || '#/');
  useEffect(() => {
    const on = () => setHash(location.hash || '#/');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

function SignIn({ onDone }: { onDone: () => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    signIn(key.trim());
    const r = await api().viewer();
    setBusy(false);
    if (r.ok) return onDone();
    signOut();
    setError(r.error.status === 401 ? 'That API key is not valid (unknown, revoked or expired).' : r.error.message);
  };
  return (
    <main class="signin">
      <h1>Swapyard</h1>
      <form onSubmit={submit} noValidate>
        <label for="api-key">API key</label>
        <input id="api-key" type="password" autoComplete="off" value={key} required
          aria-invalid={error ? 'true' : undefined} aria-describedby="api-key-help api-key-error"
          onInput={(e) => setKey((e.target as HTMLInputElement).value)} />
        <p id="api-key-help" class="hint">Kept in this tab's session storage only, and sent as the bearer header.</p>
        {error && <p id="api-key-error" class="field-error" role="alert">{error}</p>}
        <button type="submit" disabled={busy || !key.trim()}>Sign in</button>
      </form>
    </main>
  );
}

function App() {
  const hash = useHash();
  const [signedIn, setSignedIn] = useState(!!storedKey());
  const [viewer, setViewer] = useState<{ name: string; isAdmin: boolean } | null>(null);
  useEffect(() => {
    if (!signedIn) return;
    void api().viewer().then((r) => {
      if (r.ok) setViewer(r.value);
      else if (r.error.status === 401) {
        signOut();
        setSignedIn(false);
      }
    });
  }, [signedIn]);
  if (!signedIn) return <SignIn onDone={() => setSignedIn(true)} />;
  const [, route = '', arg = ''] = hash.split('/');
  const link = (to: string, label: string, active: boolean) => (
    <a href={to} aria-current={active ? 'page' : undefined}>{label}</a>
  );
  return (
    <>
      <header class="top">
        <a class="brand" href="#/">Swapyard</a>
        <nav aria-label="Main">
          {link('#/', 'History', route === '' || route === 'jobs')}
          {link('#/new', 'New swap', route === 'new' || route === 'rerun')}
          {link('#/spend', 'Spend', route === 'spend')}
          {link('#/webhooks', 'Webhooks', route === 'webhooks')}
          {viewer?.isAdmin && link('#/keys', 'Keys', route === 'keys')}
        </nav>
        <span class="who">{viewer ? `${viewer.name}${viewer.isAdmin ? ' (admin)' : ''}` : ''}</span>
        <button type="button" class="link" onClick={() => { signOut(); setSignedIn(false); location.hash = '#/'; }}>Sign out</button>
      </header>
      <main id="main">
        {route === 'jobs' && arg ? <JobPage id={decodeURIComponent(arg)} key={arg} />
          : route === 'new' ? <NewSwap model={arg || null} key={`new-${arg}`} />
          : route === 'rerun' && arg ? <NewSwap rerunOf={decodeURIComponent(arg)} key={`rerun-${arg}`} />
          : route === 'spend' ? <SpendPage />
          : route === 'webhooks' ? <WebhooksPage />
          : route === 'keys' ? (viewer ? <AdminKeysPage isAdmin={viewer.isAdmin} /> : <p>Loading…</p>)
          : <Gallery />}
      </main>
    </>
  );
}

const root = document.getElementById('app')!;
root.textContent = '';
render(<App />, root);
