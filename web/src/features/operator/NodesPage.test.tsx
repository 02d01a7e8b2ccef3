import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen, within } from '@testing-library/react';
import { locale } from '../../i18n';
import type { SwarmNode } from './adminApi';

const nodes = vi.fn<() => Promise<SwarmNode[]>>();
const drain = vi.fn<(id: string) => Promise<{ node: string; moved: { link_id: string; to_node: string }[]; unplaced: string[]; needs_scan: boolean }>>();
const activate = vi.fn<(id: string) => Promise<void>>();
vi.mock('./adminApi', () => ({
  adminApi: {
    nodes: () => nodes(),
    drain: (id: string) => drain(id),
    activate: (id: string) => activate(id),
  },
}));

const { NodesPage } = await import('./NodesPage');

function node(over: Partial<SwarmNode>): SwarmNode {
  return {
    id: 'n1',
    hostname: 'worker-1',
    role: 'worker',
    availability: 'active',
    state: 'ready',
    sessions_label: true,
    accepts_links: true,
    links: 3,
    link_ids: [],
    cap: 50,
    ...over,
  };
}

beforeEach(() => locale.set('en'));
afterEach(() => vi.clearAllMocks());

describe('NodesPage', () => {
  it('lists nodes with their links and cap, and drains one after saying moved links need a new scan', async () => {
    nodes.mockResolvedValue([node({}), node({ id: 'n2', hostname: 'worker-2', availability: 'drain', links: 0 })]);
    drain.mockResolvedValue({ node: 'n1', moved: [{ link_id: 'l1', to_node: 'n3' }], unplaced: [], needs_scan: true });
    render(<NodesPage />);
    await screen.findByText('worker-1');
    expect(screen.getByText('3 of 50')).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Activate worker-2' })).toBeTruthy();

    fireEvent.click(screen.getByRole('button', { name: 'Drain worker-1' }));
    const dialog = screen.getByRole('dialog', { hidden: true });
    expect(within(dialog).getByText(/needs a new QR scan/)).toBeTruthy();
    expect(drain).not.toHaveBeenCalled();
    fireEvent.click(within(dialog).getByRole('button', { name: 'Drain', hidden: true }));
    await vi.waitFor(() => expect(drain).toHaveBeenCalledWith('n1'));
    await vi.waitFor(() => expect(nodes).toHaveBeenCalledTimes(2));
  });

  it('says when there are no nodes (one Docker engine)', async () => {
    nodes.mockResolvedValue([]);
    render(<NodesPage />);
    await screen.findByText(/runs its sessions on one Docker engine/);
  });
});
