import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ChannelType } from './notification.validation.js';

/** What a delivery stores and sends: the same body on every attempt, so receivers can deduplicate by id. */
export interface NotificationEnvelope {
  id: string;
  type: string;
  tenantId: string;
  occurredAt: string;
  data: Record<string, unknown>;
}

export const SIGNATURE_HEADER = 'x-omega-signature';
export const TIMESTAMP_HEADER = 'x-omega-timestamp';

/** HMAC-SHA256 over `${timestamp}.${body}`, hex, prefixed with the scheme version. */
export function signPayload(secret: string, timestamp: string, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** What a receiver does: recompute and compare in constant time (exported for tests and example receivers). */
export function verifySignature(secret: string, timestamp: string, body: string, signature: string): boolean {
  const expected = Buffer.from(signPayload(secret, timestamp, body));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

const TITLES: Record<string, string> = {
  'node.failed': 'Node failed',
  'session.failed': 'Session failed',
  'deployment.scaled': 'Deployment scaled',
  'quota.exceeded': 'Quota exceeded',
  'security.event': 'Security event',
  'notification.test': 'Test notification',
};

/** Discord embed colours by severity. */
const COLOURS: Record<string, number> = {
  'node.failed': 0xd93025,
  'session.failed': 0xd93025,
  'security.event': 0xd93025,
  'quota.exceeded': 0xf29900,
  'deployment.scaled': 0x1a73e8,
  'notification.test': 0x188038,
};

const text = (value: unknown): string => (typeof value === 'string' ? value : value === undefined || value === null ? '' : JSON.stringify(value));
const clip = (value: string, max: number): string => (value.length <= max ? value : `${value.slice(0, max - 1)}…`);

/** One line saying what happened, from the fields producers commonly send. */
export function summarize(event: NotificationEnvelope): string {
  const d = event.data;
  const subject = (...keys: string[]) => keys.map((key) => text(d[key])).find((value) => value !== '') ?? '';
  const reason = subject('reason', 'message', 'error');
  const because = reason ? `: ${reason}` : '';
  switch (event.type) {
    case 'node.failed':
      return `Node ${subject('hostname', 'nodeId') || 'unknown'} failed${because}`;
    case 'session.failed':
      return `Session ${subject('sessionName', 'sessionId') || 'unknown'} failed${because}`;
    case 'deployment.scaled': {
      const desired = text(d.desiredReplicas);
      const current = text(d.currentReplicas);
      const to = desired ? ` to ${desired} replicas${current ? ` (${current} running)` : ''}` : '';
      return `Deployment ${subject('deploymentName', 'name', 'deploymentId') || 'unknown'} scaled${to}${because}`;
    }
    case 'quota.exceeded':
      return [`Quota`, subject('quota', 'resource'), `exceeded${because}`].filter(Boolean).join(' ');
    case 'security.event':
      return [`Security event`, subject('eventType', 'kind')].filter(Boolean).join(' ') + because;
    case 'notification.test':
      return `Test notification for channel "${subject('channelName') || 'unnamed'}": deliveries to this channel work`;
    default:
      return `${event.type}${because}`;
  }
}

/** Slack mrkdwn treats &, < and > as control characters. */
const slackEscape = (value: string) => value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The event's fields by name: stored JSON keeps no key order, so messages sort them. */
function detailFields(event: NotificationEnvelope): [string, string][] {
  return Object.entries(event.data)
    .filter(([, value]) => value !== undefined && value !== null)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]) => [key, text(value)]);
}

function slackPayload(event: NotificationEnvelope): unknown {
  const title = TITLES[event.type] ?? event.type;
  const summary = summarize(event);
  const fields = detailFields(event)
    .slice(0, 10)
    .map(([key, value]) => ({ type: 'mrkdwn', text: clip(`*${slackEscape(key)}*\n${slackEscape(value)}`, 2000) }));
  return {
    text: clip(slackEscape(`${title}: ${summary}`), 3000),
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: clip(title, 150) } },
      { type: 'section', text: { type: 'mrkdwn', text: clip(slackEscape(summary), 3000) }, ...(fields.length > 0 ? { fields } : {}) },
      {
        type: 'context',
        elements: [{ type: 'mrkdwn', text: clip(`${slackEscape(event.type)} · event ${event.id} · ${event.occurredAt}`, 3000) }],
      },
    ],
  };
}

function discordPayload(event: NotificationEnvelope): unknown {
  const title = TITLES[event.type] ?? event.type;
  const summary = summarize(event);
  return {
    content: clip(`**${title}**: ${summary}`, 2000),
    // Event text comes from the cluster, not from people: it must never ping anyone.
    allowed_mentions: { parse: [] },
    embeds: [
      {
        title: clip(title, 256),
        description: clip(summary, 4096),
        color: COLOURS[event.type] ?? 0x5f6368,
        timestamp: event.occurredAt,
        fields: detailFields(event)
          .slice(0, 25)
          .map(([key, value]) => ({ name: clip(key, 256), value: clip(value, 1024), inline: value.length <= 40 })),
        footer: { text: clip(`${event.type} · event ${event.id}`, 2048) },
      },
    ],
  };
}

/** The request body for a channel: Slack's and Discord's message formats, or the event itself. */
export function renderBody(channelType: ChannelType, event: NotificationEnvelope): string {
  switch (channelType) {
    case 'slack':
      return JSON.stringify(slackPayload(event));
    case 'discord':
      return JSON.stringify(discordPayload(event));
    case 'email': {
      // An email relay needs a subject and a text body besides the event.
      const subject = `[Omega] ${TITLES[event.type] ?? event.type}`;
      const lines = detailFields(event).map(([key, value]) => `${key}: ${value}`);
      return JSON.stringify({ ...event, subject, text: [summarize(event), '', ...lines, '', `Event ${event.id} at ${event.occurredAt}`].join('\n') });
    }
    case 'webhook':
      return JSON.stringify(event);
  }
}
