// Never a blank page: a render error shows a message and a way out instead.
import { Component, type ErrorInfo, type ReactNode } from 'react';
import { common } from '../i18n/common';
import { translator } from '../i18n';

interface Props {
  children: ReactNode;
  /** A smaller message for one panel instead of the whole page. */
  inline?: boolean;
}

export class ErrorBoundary extends Component<Props, { error: Error | null }> {
  override state = { error: null as Error | null };

  static getDerivedStateFromError(error: Error) {
    return { error };
  }

  override componentDidCatch(error: Error, info: ErrorInfo) {
    console.error('render failed', error, info.componentStack);
  }

  override render() {
    if (!this.state.error) return this.props.children;
    const t = translator(common);
    return (
      <div role="alert" className={this.props.inline ? 'error-panel' : 'error-page'}>
        <h2>{t('somethingWrong')}</h2>
        <p>{t('somethingWrongBody')}</p>
        <div className="row">
          <button type="button" className="btn" onClick={() => this.setState({ error: null })}>
            {t('retry')}
          </button>
          <button type="button" className="btn btn-ghost" onClick={() => location.reload()}>
            {t('reload')}
          </button>
        </div>
      </div>
    );
  }
}
