import { useState } from 'react';
import type { EventStore } from '../../model/types';
import { readUrlState, type UrlState } from '../../app/url-state';
import type { OpenedNode } from '../topology/TopologyView';
import { ClusterPanel, ClusterStrip } from './ClusterPanel';
import { HostPanel, HostStrip } from './HostPanel';

/**
 * The App's glue for an opened host or cluster: its state (from the address at first),
 * its part of the address, its tab label, and the panel or presenter strip it shows. Kept
 * here so App.tsx only wires it in.
 */

/** `host=<cluster>/<ip:port>`: the cluster name is everything before the last `/`. */
function fromUrl(state: UrlState): OpenedNode | null {
  if (state.host) {
    const slash = state.host.lastIndexOf('/');
    if (slash > 0 && slash < state.host.length - 1) return { kind: 'host', cluster: state.host.slice(0, slash), host: state.host.slice(slash + 1) };
  }
  if (state.cluster) return { kind: 'cluster', cluster: state.cluster };
  return null;
}

export function useOpenedNode() {
  return useState<OpenedNode | null>(() => fromUrl(readUrlState()));
}

export function openedToUrl(opened: OpenedNode | null): Pick<UrlState, 'host' | 'cluster'> {
  if (!opened) return { host: null, cluster: null };
  return opened.kind === 'host' ? { host: `${opened.cluster}/${opened.host}`, cluster: null } : { host: null, cluster: opened.cluster };
}

export function openedLabel(store: EventStore, opened: OpenedNode): string {
  if (opened.kind === 'cluster') return `Cluster ${opened.cluster}`;
  const name = store.topology?.clusters.find((c) => c.name === opened.cluster)?.hostnames?.[opened.host];
  return `Host ${name ?? opened.host}`;
}

interface Props {
  store: EventStore;
  version: number;
  cursor: number;
  opened: OpenedNode;
}

export function OpenedPanel({ opened, onOpen, onSelectRequest, onClose, ...rest }: Props & { onOpen(node: OpenedNode): void; onSelectRequest(stream: number): void; onClose(): void }) {
  return opened.kind === 'host' ? (
    <HostPanel key={`${opened.cluster}/${opened.host}`} {...rest} cluster={opened.cluster} host={opened.host} onSelectRequest={onSelectRequest} onSelectCluster={(cluster) => onOpen({ kind: 'cluster', cluster })} onClose={onClose} />
  ) : (
    <ClusterPanel key={opened.cluster} {...rest} cluster={opened.cluster} onSelectHost={(cluster, host) => onOpen({ kind: 'host', cluster, host })} onClose={onClose} />
  );
}

export function OpenedStrip({ opened, ...rest }: Props) {
  return opened.kind === 'host' ? <HostStrip {...rest} cluster={opened.cluster} host={opened.host} /> : <ClusterStrip {...rest} cluster={opened.cluster} />;
}
