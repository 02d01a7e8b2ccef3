import { act, fireEvent, render } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { VirtualList } from './VirtualList';

const items = Array.from({ length: 1500 }, (_, i) => ({ id: `c${i}`, name: `Conversation ${i}` }));

function mount(onEnd = vi.fn()) {
  const r = render(
    <div style={{ height: 600 }}>
      <VirtualList items={items} rowHeight={76} getKey={(x) => x.id} label="Conversations" onEndReached={onEnd} renderRow={(x) => <a href={`/inbox/${x.id}`}>{x.name}</a>} />
    </div>,
  );
  const box = r.container.querySelector('.vlist') as HTMLDivElement;
  Object.defineProperty(box, 'clientHeight', { value: 600, configurable: true });
  return { ...r, box, onEnd };
}

describe('VirtualList', () => {
  it('keeps only the rows in view (plus a few) in the DOM, for 1,500 conversations', () => {
    const { container } = mount();
    const rows = container.querySelectorAll('li');
    expect(rows.length).toBeLessThan(30);
    expect(rows[0]?.getAttribute('aria-setsize')).toBe('1500');
    expect(rows[0]?.getAttribute('aria-posinset')).toBe('1');
  });

  it('renders the rows at the scroll position and asks for more near the end', () => {
    const { container, box, onEnd } = mount();
    act(() => {
      box.scrollTop = 76 * 1000;
      fireEvent.scroll(box);
    });
    const names = [...container.querySelectorAll('li')].map((li) => li.textContent);
    expect(names).toContain('Conversation 1000');
    expect(names).not.toContain('Conversation 0');
    expect(onEnd).not.toHaveBeenCalled();
    act(() => {
      box.scrollTop = 76 * 1495;
      fireEvent.scroll(box);
    });
    expect(onEnd).toHaveBeenCalled();
    const inner = container.querySelector('.vlist-inner') as HTMLElement;
    const rows = container.querySelectorAll('li').length;
    expect(parseFloat(inner.style.paddingTop) + rows * 76 + parseFloat(inner.style.paddingBottom)).toBe(1500 * 76);
  });
});
