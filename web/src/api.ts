// The dashboard's session: the API key (sessionStorage, sent as the bearer header
// by the typed client), the client itself, images fetched with the key (the
// API serves them only with it, so <img src> alone cannot), and the model forms.
import { useEffect, useState } from 'preact/hooks';
import { createClient, type SwapyardClient } from '../../src/client/index.js';

const KEY = 'swapyard.apiKey';

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY);
}

export function signIn(key: string): void {
  sessionStorage.setItem(KEY, key);
}

export function signOut(): void {
  sessionStorage.removeItem(KEY);
  void current?.close();
  current = null;
  blobs.clear();
}

let current: SwapyardClient | null = null;

export function api(): SwapyardClient {
  const key = storedKey();
  if (!key) throw new Error('not signed in');
  current ??= createClient({ url: location.origin, apiKey: key });
  return current;
}

const blobs = new Map<string, Promise<string>>();

/** An object URL for an image the API serves to the key only. */
export function authorizedImage(url: string): Promise<string> {
  let found = blobs.get(url);
  if (!found) {
    found = fetch(url, { headers: { authorization: `Bearer ${storedKey()}` } }).then(async (res) => {
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      return URL.createObjectURL(await res.blob());
    });
    found.catch(() => blobs.delete(url));
    blobs.set(url, found);
  }
  return found;
}

/** Drops the cached copies of the images whose URL contains `part` (a deleted job's id): they are gone on the server. */
export function forgetImages(part: string): void {
  for (const [url, src] of blobs) {
    if (!url.includes(part)) continue;
    blobs.delete(url);
    void src.then((u) => URL.revokeObjectURL(u), () => {});
  }
}

/** Same-origin URLs need the key; any other URL (a job's URL input) is shown as is. */
export function useImage(url: string | null | undefined, visible = true): { src: string | null; error: boolean } {
  const [state, setState] = useState<{ src: string | null; error: boolean }>({ src: null, error: false });
  useEffect(() => {
    if (!url || !visible) return;
    if (new URL(url, location.href).origin !== location.origin) {
      setState({ src: url, error: false });
      return;
    }
    let live = true;
    authorizedImage(url).then(
      (src) => live && setState({ src, error: false }),
      () => live && setState({ src: null, error: true }),
    );
    return () => {
      live = false;
    };
  }, [url, visible]);
  return state;
}

export type FormParam =
  | { kind: 'image'; name: string; wire: string; description: string; required: boolean; hasDefault: boolean }
  | { kind: 'enum'; name: string; wire: string; description: string; values: { name: string; wire: string }[]; default: string | null }
  | { kind: 'int' | 'float'; name: string; wire: string; description: string; default: number | null; min: number | null; max: number | null }
  | { kind: 'seed'; name: string; wire: string; description: string; min: number; max: number }
  | { kind: 'boolean'; name: string; wire: string; description: string; default: boolean }
  | { kind: 'string'; name: string; wire: string; description: string; default: string; maxLength: number }
  | { kind: 'faceIndexList'; name: string; wire: string; description: string; default: string };

export interface ModelForm {
  key: string;
  slug: string;
  graphqlName: string;
  description: string;
  params: FormParam[];
}

let forms: Promise<ModelForm[]> | null = null;

export function modelForms(): Promise<ModelForm[]> {
  forms ??= fetch('/ui/models.json').then((r) => r.json() as Promise<ModelForm[]>);
  return forms;
}

export function useModelForms(): ModelForm[] | null {
  const [value, setValue] = useState<ModelForm[] | null>(null);
  useEffect(() => {
    void modelForms().then(setValue);
  }, []);
  return value;
}
