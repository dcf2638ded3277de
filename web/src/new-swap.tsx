// The new-swap form, generated per model from the model specs the schema is made
// from (/ui/models.json): every enum, range and default. The server validates;
// its messages are shown at their fields. With `rerunOf`, the same form prefilled
// from the job's stored parameters, sending only what changed as overrides.
import { useEffect, useState } from 'preact/hooks';
import type { JobDetailFragment, ModelInputs, Provider, RerunOverrides } from '../../src/client/index.js';
import { api, useModelForms, type FormParam, type ModelForm } from './api.js';
import { go, MODEL_LABELS } from './format.js';

type Values = Record<string, string | boolean>;

function defaults(form: ModelForm): Values {
  const v: Values = {};
  for (const p of form.params) {
    if (p.kind === 'boolean') v[p.name] = p.default;
    else if (p.kind === 'image' || p.kind === 'seed') v[p.name] = '';
    else v[p.name] = p.default == null ? '' : String(p.default);
  }
  return v;
}

/** The job's stored parameters (wire names and values) as form values. */
function fromJob(form: ModelForm, job: JobDetailFragment): Values {
  const stored = (job.parameters ?? {}) as Record<string, unknown>;
  const v = defaults(form);
  for (const p of form.params) {
    const value = stored[p.wire];
    if (value === undefined || p.kind === 'image') continue;
    if (p.kind === 'enum') v[p.name] = p.values.find((x) => x.wire === value)?.name ?? String(value);
    else if (p.kind === 'boolean') v[p.name] = Boolean(value);
    else v[p.name] = String(value);
  }
  if (job.seed != null) v.seed = String(job.seed);
  return v;
}

/** Form values as a GraphQL input; numbers stay what was typed, for the server to judge. */
function toInput(form: ModelForm, values: Values, only?: Values): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const p of form.params) {
    const raw = values[p.name];
    if (only && raw === only[p.name]) continue;
    if (p.kind === 'boolean') input[p.name] = raw;
    else if (raw === '' || raw === undefined) continue;
    else if (p.kind === 'int' || p.kind === 'float' || p.kind === 'seed') input[p.name] = Number(raw);
    else input[p.name] = raw;
  }
  return input;
}

function readFile(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

function hint(p: FormParam): string {
  const parts = [p.description];
  if ((p.kind === 'int' || p.kind === 'float' || p.kind === 'seed') && p.min != null && p.max != null) parts.push(`Range ${p.min}–${p.max}.`);
  if (p.kind === 'seed') parts.push('Blank: drawn by the server and recorded.');
  if ('default' in p && p.default != null && p.default !== '' && p.kind !== 'boolean') parts.push(`Default ${p.default}.`);
  if (p.kind === 'string') parts.push(`At most ${p.maxLength} characters.`);
  parts.push(`Wire name ${p.wire}.`);
  return parts.join(' ');
}

function Field({ p, value, error, rerun, onChange, onReading }: {
  p: FormParam; value: string | boolean; error?: string; rerun: boolean;
  onChange: (v: string | boolean) => void; onReading: (delta: 1 | -1) => void;
}) {
  const id = `field-${p.name}`;
  const described = `${id}-hint${error ? ` ${id}-error` : ''}`;
  const common = { id, name: p.name, 'aria-describedby': described, 'aria-invalid': error ? ('true' as const) : undefined };
  const text = (e: Event) => onChange((e.target as HTMLInputElement).value);
  let control;
  switch (p.kind) {
    case 'image':
      control = (
        <div class="image-field">
          <input {...common} type="url" placeholder={rerun ? 'Blank: the original image' : p.hasDefault ? 'Blank: the vendor sample' : 'https://… or choose a file'}
            value={typeof value === 'string' && value.startsWith('data:') ? '' : String(value)} onInput={text} />
          <label class="file">or a file
            <input type="file" accept="image/*" name={`${p.name}-file`} id={`${id}-file`} aria-describedby={described}
              onChange={async (e) => {
                const file = (e.target as HTMLInputElement).files?.[0];
                if (!file) return;
                onReading(1);
                try { onChange(await readFile(file)); } finally { onReading(-1); }
              }} />
          </label>
          {typeof value === 'string' && value.startsWith('data:') && <span class="small">File chosen ({Math.round((value.length * 3) / 4 / 1024)} KB)</span>}
        </div>
      );
      break;
    case 'enum':
      control = <select {...common} value={String(value)} onChange={text}>{p.values.map((v) => <option value={v.name}>{v.name} ({v.wire})</option>)}</select>;
      break;
    case 'boolean':
      control = <input {...common} type="checkbox" checked={Boolean(value)} onChange={(e) => onChange((e.target as HTMLInputElement).checked)} />;
      break;
    case 'int': case 'float': case 'seed':
      control = <input {...common} type="number" step={p.kind === 'float' ? 'any' : '1'} value={String(value)} onInput={text} />;
      break;
    default:
      control = <input {...common} type="text" value={String(value)} onInput={text} />;
  }
  return (
    <div class={`field${error ? ' invalid' : ''}`}>
      <label for={id}>{p.name}{p.kind === 'image' && p.required && !rerun ? ' (required)' : ''}</label>
      {control}
      <p id={`${id}-hint`} class="hint">{hint(p)}</p>
      {error && <p id={`${id}-error`} class="field-error" role="alert">{error}</p>}
    </div>
  );
}

export function NewSwap({ model, rerunOf }: { model?: string | null; rerunOf?: string }) {
  const forms = useModelForms();
  const [original, setOriginal] = useState<JobDetailFragment | null>(null);
  const [chosen, setChosen] = useState<string>(model || 'FACESWAP_V3_MULTI');
  const [values, setValues] = useState<Values | null>(null);
  const [provider, setProvider] = useState<string>('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [general, setGeneral] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // Files still being read: submitting now would send the form without them.
  const [reading, setReading] = useState(0);

  useEffect(() => {
    if (!rerunOf) return;
    void api().job(rerunOf).then((r) => {
      if (r.ok) {
        setOriginal(r.value);
        setChosen(r.value.model);
        setProvider(r.value.provider);
      } else setGeneral('No such job to rerun.');
    });
  }, [rerunOf]);

  const form = forms?.find((f) => f.key === chosen);
  useEffect(() => {
    if (!form) return;
    if (rerunOf && !original) return;
    setValues(original ? fromJob(form, original) : defaults(form));
    setErrors({});
  }, [form, original]);

  if (!forms || !form || !values) return <p>{general ?? 'Loading…'}</p>;
  const prefilled = original ? fromJob(form, original) : null;

  const submit = async (e: Event) => {
    e.preventDefault();
    if (reading > 0) return;
    setErrors({});
    setGeneral(null);
    const missing = original ? [] : form.params.filter((p) => p.kind === 'image' && p.required && !values[p.name]);
    if (missing.length) {
      setErrors(Object.fromEntries(missing.map((p) => [p.name, 'Required: choose a file or give a URL.'])));
      setGeneral('Please correct the fields marked below.');
      return;
    }
    setBusy(true);
    const chosenProvider = (provider || undefined) as Provider | undefined;
    const r = original
      ? await api().rerun(original.id, {
        provider: chosenProvider,
        overrides: { [form.graphqlName[0]!.toLowerCase() + form.graphqlName.slice(1)]: toInput(form, values, prefilled!) } as RerunOverrides,
      })
      : await api().create(chosen as keyof ModelInputs, { ...toInput(form, values), provider: chosenProvider } as never);
    setBusy(false);
    if (r.ok) return go(`#/jobs/${encodeURIComponent(r.value.id)}`);
    const err = r.error;
    const byField: Record<string, string> = {};
    const nameOf = (field: string) => {
      const last = field.split('.').pop()!;
      return form.params.find((p) => p.name === last || p.wire === last)?.name ?? last;
    };
    if (err.__typename === 'InvalidInputError') {
      for (const v of err.violations.length ? err.violations : [{ field: err.field, message: err.message }]) byField[nameOf(v.field)] ??= v.message;
    } else if (err.__typename === 'UnsupportedOptionError') {
      for (const o of err.options) if (o.option !== 'model') byField[nameOf(o.option)] ??= `${o.reason}`;
    }
    setErrors(byField);
    const unplaced = Object.keys(byField).filter((f) => !form.params.some((p) => p.name === f));
    setGeneral(Object.keys(byField).length && !unplaced.length ? 'Please correct the fields marked below.' : err.message);
  };

  return (
    <section aria-labelledby="new-title">
      <h1 id="new-title">{original ? <>Rerun with changes <span class="mono small">{original.id}</span></> : 'New swap'}</h1>
      <form class="swap-form" onSubmit={submit} noValidate>
        <div class="row">
          <div class="field">
            <label for="model">Model</label>
            <select id="model" value={chosen} disabled={!!original} onChange={(e) => setChosen((e.target as HTMLSelectElement).value)}>
              {forms.map((f) => <option value={f.key}>{MODEL_LABELS[f.key] ?? f.slug}</option>)}
            </select>
            <p class="hint">{form.description}</p>
          </div>
          <div class="field">
            <label for="provider">Provider</label>
            <select id="provider" value={provider} onChange={(e) => setProvider((e.target as HTMLSelectElement).value)}>
              <option value="">{original ? 'The original job\'s' : 'Server default'}</option>
              <option value="LOCAL">LOCAL (this machine, free)</option>
              <option value="SEGMIND">SEGMIND</option>
            </select>
          </div>
        </div>
        {general && <p class="error" role="alert" id="form-error">{general}</p>}
        <div class="fields">
          {form.params.map((p) => (
            <Field p={p} value={values[p.name]!} error={errors[p.name]} rerun={!!original}
              // An update from the state it lands on: a file read ends after later edits, and must not undo them.
              onChange={(v) => setValues((prev) => ({ ...prev!, [p.name]: v }))}
              onReading={(delta) => setReading((n) => n + delta)} />
          ))}
        </div>
        <button type="submit" disabled={busy || reading > 0}>{busy ? 'Submitting…' : reading > 0 ? 'Reading file…' : original ? 'Rerun' : 'Create swap'}</button>
      </form>
    </section>
  );
}
