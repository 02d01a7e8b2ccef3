// The app's root: resume the session, then show sign-in or the screens of the user's role.
import { useEffect } from 'react';
import { useStore } from './lib/store';
import { session, sessionStore } from './session/session';
import { realtime } from './realtime/socket';
import { ErrorBoundary } from './ui/ErrorBoundary';
import { Toasts } from './ui/toast';
import { Spinner } from './ui/controls';
import { AuthScreens } from './features/auth/AuthScreens';
import { Shell } from './features/shell/Shell';

export function App() {
  const s = useStore(sessionStore);
  useEffect(() => {
    void session.init();
  }, []);
  const signedIn = s.status === 'signedIn';
  const userId = signedIn ? s.user.id : null;
  useEffect(() => {
    if (!userId) return;
    realtime.start();
    return () => realtime.stop();
  }, [userId]);

  return (
    <ErrorBoundary>
      {s.status === 'loading' && (
        <div className="splash">
          <Spinner />
        </div>
      )}
      {s.status === 'signedOut' && <AuthScreens reason={s.reason} />}
      {s.status === 'signedIn' && <Shell user={s.user} />}
      <Toasts />
    </ErrorBoundary>
  );
}
