import { trSection } from '../../lib/i18n/request-locale.ts';
import { maskPhone } from '../../lib/phones/phones.ts';
import type { OptOutView, UnmappedOptOutView } from '../../lib/services/opt-outs.ts';
import { Alert, Card, Csrf, Empty, Field, PostButton } from '../components.tsx';
import { str, type FieldErrors, type Form } from '../form.ts';
import { formatDateTime } from '../format.ts';
import type { StorePage } from '../layout.tsx';

/** Opt-outs: the add form, the list, and the "stop" replies not yet matched to a number. */

const L = trSection('optOuts');

export function OptOutsPage(props: { page: StorePage; optOuts: OptOutView[]; unmapped: UnmappedOptOutView[]; submitted?: { form: Form; errors: FieldErrors } }) {
  const { page } = props;
  return (
    <>
      <h1>{L.title}</h1>
      <p class="muted">{L.hint}</p>
      <Card>
        <OptOutForm page={page} submitted={props.submitted} />
      </Card>
      <Card>
        {props.optOuts.length === 0 ? <Empty text={L.empty} /> : <OptOutTable page={page} optOuts={props.optOuts} />}
      </Card>
      {props.unmapped.length === 0 ? null : <UnmappedOptOuts unmapped={props.unmapped} timezone={page.store.timezone} />}
    </>
  );
}

function OptOutForm(props: { page: StorePage; submitted?: { form: Form; errors: FieldErrors } }) {
  const { page, submitted } = props;
  const e = submitted?.errors ?? {};
  return (
    <form method="post" action={`${page.base}/opt-outs`} class="form form-inline" novalidate id="opt-out-form">
      <Csrf token={page.csrf} />
      {e._ ? <Alert tone="bad">{e._}</Alert> : null}
      <Field label={L.phone} for="phone" error={e.phone}>
        <input type="tel" id="phone" name="phone" value={submitted ? str(submitted.form, 'phone') : ''} placeholder="+7 7XX XXX XX XX" required />
      </Field>
      <Field label={L.note} for="note" error={e.note}>
        <input type="text" id="note" name="note" value={submitted ? str(submitted.form, 'note') : ''} maxlength={500} />
      </Field>
      <div class="filter-actions"><button type="submit" class="btn btn-primary" id="add-opt-out">{L.add}</button></div>
    </form>
  );
}

function OptOutTable(props: { page: StorePage; optOuts: OptOutView[] }) {
  const { page } = props;
  return (
    <div class="table-wrap">
      <table class="table" id="opt-outs-table">
        <thead><tr><th>{L.phone}</th><th>{L.source}</th><th>{L.matchedBy}</th><th>{L.note}</th><th>{L.added}</th><th></th></tr></thead>
        <tbody>
          {props.optOuts.map((o) => (
            <tr>
              <td class="nowrap">{maskPhone(o.phone)}</td>
              <td>{L.sources[o.source] ?? o.source}</td>
              <td class="matched-by">{o.matched_by ? (L.matches[o.matched_by] ?? o.matched_by) : '—'}</td>
              <td>{o.note ?? '—'}</td>
              <td class="nowrap">{formatDateTime(o.created_at, page.store.timezone)}</td>
              <td class="row-actions">
                <PostButton action={`${page.base}/opt-outs/remove`} csrf={page.csrf} label={L.remove} class="btn btn-small btn-danger-ghost" confirm={L.removeConfirm} hidden={{ phone: o.phone }} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function UnmappedOptOuts(props: { unmapped: UnmappedOptOutView[]; timezone: string }) {
  return (
    <Card title={L.unmappedTitle} id="unmapped-opt-outs">
      <p class="hint card-hint">{L.unmappedHint}</p>
      <table class="table">
        <thead><tr><th>{L.lid}</th><th>{L.added}</th></tr></thead>
        <tbody>
          {props.unmapped.map((u) => (
            <tr><td class="nowrap">…{u.lid_suffix}</td><td class="nowrap">{formatDateTime(u.created_at, props.timezone)}</td></tr>
          ))}
        </tbody>
      </table>
    </Card>
  );
}
