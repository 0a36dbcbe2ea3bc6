import { LOCALE_NAMES } from '../../lib/i18n/messages.ts';
import { tr, trSection } from '../../lib/i18n/request-locale.ts';
import { Alert, Card, Csrf, Field } from '../components.tsx';
import type { FieldErrors } from '../form.ts';
import { TIMEZONES } from './settings.tsx';

/**
 * "Новый магазин": the form a seller without a store (or with several) uses instead of the JSON
 * API. The Kaspi token is a write-only password field: it is never rendered back, not even after a
 * validation error (the seller types it again).
 */

const L = trSection('newStore');

export interface NewStoreValues {
  name: string;
  kaspi_merchant_uid: string;
  timezone: string;
  poll_interval_seconds: string;
  /** ru, kk or '' (none): the templates the store starts with. */
  default_templates: string;
}

export const NEW_STORE_DEFAULTS: NewStoreValues = { name: '', kaspi_merchant_uid: '', timezone: 'Asia/Almaty', poll_interval_seconds: '60', default_templates: 'ru' };

export function NewStorePage(props: { csrf: string; values: NewStoreValues; errors: FieldErrors; canCancel: boolean }) {
  const { values: v, errors } = props;
  return (
    <>
      <h1>{L.title}</h1>
      <Card id="new-store">
        <p class="muted" style="margin-top: 0">{L.intro}</p>
        <form method="post" action="/stores/new" class="form" novalidate id="new-store-form">
          <Csrf token={props.csrf} />
          {errors._ ? <Alert tone="bad">{errors._}</Alert> : null}
          <div class="row-2">
            <Field label={tr.settings.storeName} for="name" error={errors.name}>
              <input type="text" id="name" name="name" value={v.name} maxlength={200} required autofocus />
            </Field>
            <Field label={tr.settings.merchantUid} for="kaspi_merchant_uid" error={errors.kaspi_merchant_uid} hint={L.optional}>
              <input type="text" id="kaspi_merchant_uid" name="kaspi_merchant_uid" value={v.kaspi_merchant_uid} maxlength={100} />
            </Field>
          </div>
          <Field label={tr.settings.kaspiToken} for="kaspi_api_token" error={errors.kaspi_api_token} hint={L.tokenHint}>
            <input type="password" id="kaspi_api_token" name="kaspi_api_token" value="" autocomplete="new-password" />
          </Field>
          <div class="row-2">
            <Field label={tr.settings.timezone} for="timezone" error={errors.timezone}>
              <input type="text" id="timezone" name="timezone" value={v.timezone} list="timezones" />
              <datalist id="timezones">{TIMEZONES.map((z) => <option value={z} />)}</datalist>
            </Field>
            <Field label={tr.settings.pollInterval} for="poll_interval_seconds" error={errors.poll_interval_seconds}>
              <input type="number" id="poll_interval_seconds" name="poll_interval_seconds" value={v.poll_interval_seconds} min={10} max={3600} />
            </Field>
          </div>
          <Field label={L.defaultTemplates} for="default_templates" error={errors.default_templates} hint={L.defaultTemplatesHint}>
            <select id="default_templates" name="default_templates">
              <option value="ru" selected={v.default_templates === 'ru'} lang="ru">{LOCALE_NAMES.ru}</option>
              <option value="kk" selected={v.default_templates === 'kk'} lang="kk">{LOCALE_NAMES.kk}</option>
              <option value="" selected={v.default_templates === ''}>{L.noDefaultTemplates}</option>
            </select>
          </Field>
          <div class="actions">
            <button type="submit" class="btn btn-primary" id="create-store">{L.submit}</button>
            {props.canCancel ? <a class="btn btn-ghost" href="/">{tr.templates.cancel}</a> : null}
          </div>
        </form>
      </Card>
    </>
  );
}
