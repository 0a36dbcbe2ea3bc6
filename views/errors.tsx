import { tr } from '../lib/i18n/request-locale.ts';
import { Bare } from './layout.tsx';

/** The pages' error answers: a whole page for a navigation, one line for an htmx fragment. */

function ErrorCard(props: { title: string; text: string }) {
  return (
    <Bare title={props.title}>
      <div class="card narrow">
        <h1>{props.title}</h1>
        <p>{props.text}</p>
        <p><a class="btn" href="/">{tr.notFound.back}</a></p>
      </div>
    </Bare>
  );
}

/** An invisible store, an unknown id and an unknown path look the same. */
export function NotFoundPage() {
  return <ErrorCard title={tr.notFound.title} text={tr.notFound.text} />;
}

export function ServerErrorPage() {
  return <ErrorCard title={tr.serverError.title} text={tr.serverError.text} />;
}

/** What an htmx request gets instead of its fragment. */
export function FragmentError(props: { text: string }) {
  return <p class="field-error">{props.text}</p>;
}
