// The three steps of linking, the current one highlighted (and named so for screen readers).
import { useT } from '../../../i18n';
import { linkMessages as m } from './messages';

const STEPS = [
  { title: 'step1', hint: 'step1Hint' },
  { title: 'step2', hint: 'step2Hint' },
  { title: 'step3', hint: 'step3Hint' },
] as const;

/** `current` 1–3 (0: not started); `failedAt` marks the step where it went wrong. */
export function LinkSteps({ current, failedAt }: { current: number; failedAt?: number | undefined }) {
  const t = useT(m);
  return (
    <ol className="link-steps" aria-label={t('stepsLabel')}>
      {STEPS.map((s, i) => {
        const n = i + 1;
        const done = n < current || (current === 3 && n === 3);
        const now = n === current && current !== 3;
        const failed = failedAt === n;
        const cls = failed ? 'failed' : now ? 'current' : done ? 'done' : 'todo';
        return (
          <li key={s.title} className={`link-step link-step-${cls}`} aria-current={now ? 'step' : undefined}>
            <span className="link-step-n" aria-hidden="true">
              {done ? '✓' : failed ? '!' : n}
            </span>
            <span className="link-step-text">
              <span className="link-step-title">
                {t(s.title)}
                {done && <span className="visually-hidden"> ({t('stepDone')})</span>}
              </span>
              {(now || failed) && <span className="link-step-hint">{t(s.hint)}</span>}
            </span>
          </li>
        );
      })}
    </ol>
  );
}
