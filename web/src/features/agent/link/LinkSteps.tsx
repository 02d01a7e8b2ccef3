// The three steps of linking, the current one highlighted (and named so for screen readers).
// What to do in the current step is said by the panel below them.
import { useT } from '../../../i18n';
import { linkMessages as m } from './messages';

const STEPS = ['step1', 'step2', 'step3'] as const;

/** `current` 1–3 (0: not started). */
export function LinkSteps({ current }: { current: number }) {
  const t = useT(m);
  return (
    <ol className="link-steps" aria-label={t('stepsLabel')}>
      {STEPS.map((s, i) => {
        const n = i + 1;
        const done = n < current || (current === 3 && n === 3);
        const now = n === current && current !== 3;
        const cls = now ? 'current' : done ? 'done' : 'todo';
        return (
          <li key={s} className={`link-step link-step-${cls}`} aria-current={now ? 'step' : undefined}>
            <span className="link-step-n" aria-hidden="true">
              {done ? '✓' : n}
            </span>
            <span className="link-step-title">
              {t(s)}
              {done && <span className="visually-hidden"> ({t('stepDone')})</span>}
            </span>
          </li>
        );
      })}
    </ol>
  );
}
