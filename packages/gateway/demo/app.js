// The demo chat: a thin UI over the SDK. Everything realtime (reconnects, rejoining, catching up
// on missed messages, retries without duplicates) is the SDK's job, not this page's.
import { createClient } from '/sdk/switchyard.js';

const $ = (id) => document.getElementById(id);
const TYPING_SHOWN_MS = 3000;
const DEFAULT_ROOM = 'lobby';
const MAX_SHOWN_MESSAGES = 1000;

/** One tab is one user: the id survives a reload of this tab, a second tab gets its own. */
const userId =
  sessionStorage.getItem('switchyard.userId') ?? `web-${crypto.getRandomValues(new Uint32Array(2)).join('')}`;
sessionStorage.setItem('switchyard.userId', userId);
/** `?token=<jwt>` connects to a gateway in jwt mode. */
const token = new URLSearchParams(location.search).get('token') ?? undefined;

let client;
/**
 * room name → { room, messages: ChatMessage[], typing: Map<memberId, {name, timer}>, unread, hasOlder,
 * listed: Member[] | undefined, nextCursor } — `listed` holds the pages of a large room's members read so far.
 */
const rooms = new Map();
let active;

$('name-input').value = sessionStorage.getItem('switchyard.name') ?? '';

$('name-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const name = $('name-input').value.trim();
  if (!name) return;
  sessionStorage.setItem('switchyard.name', name);
  start(name);
});

$('join-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const name = $('room-input').value.trim();
  if (name) join(name).then(() => ($('room-input').value = ''));
});

$('message-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const input = $('message-input');
  const text = input.value;
  if (!active || !text.trim()) return;
  input.value = '';
  try {
    await rooms.get(active).room.send(text); // the message comes back through the 'message' listener
  } catch (error) {
    input.value ||= text;
    showError(error);
  }
});

// A large room delivers no typing indicators: nobody could read thousands of them.
$('message-input').addEventListener('input', () => {
  const room = active && rooms.get(active)?.room;
  if (room && room.mode === 'members') room.typing();
});

$('list-members').addEventListener('click', () => listMembers(true));
$('more-members').addEventListener('click', () => listMembers(false));

/** A large room's members, a page at a time (the SDK's `listMembers`, ordered by id). */
async function listMembers(fromStart) {
  const entry = rooms.get(active);
  if (!entry || entry.room.mode !== 'large') return;
  try {
    const page = await entry.room.listMembers({ limit: 100, cursor: fromStart ? undefined : entry.nextCursor });
    entry.listed = fromStart ? page.members : [...(entry.listed ?? []), ...page.members];
    entry.nextCursor = page.nextCursor;
    render();
  } catch (error) {
    showError(error);
  }
}

$('load-older').addEventListener('click', async () => {
  const entry = rooms.get(active);
  const oldest = entry?.messages[0];
  if (!entry || !oldest) return;
  try {
    const page = await entry.room.history({ before: oldest.id, limit: 50 });
    entry.messages.unshift(...page.messages);
    entry.hasOlder = page.hasMore;
    render();
  } catch (error) {
    showError(error);
  }
});

function start(name) {
  $('name-form').hidden = true;
  $('chat').hidden = false;
  client = createClient(location.origin, token ? { getToken: () => token } : { name, userId });
  client.onState((state, error) => {
    showState(state);
    if (error) showError(error);
    if (state === 'connected') clearError();
  });
  client.onError(showError);
  showState(client.state);
  join(DEFAULT_ROOM);
  $('message-input').focus();
}

async function join(name) {
  if (rooms.has(name)) return select(name);
  try {
    const room = await client.join(name);
    const entry = {
      room,
      messages: [...room.initialMessages],
      typing: new Map(),
      unread: 0,
      hasOlder: room.initialMessages.length >= 50,
      listed: undefined,
      nextCursor: undefined,
    };
    rooms.set(name, entry);
    room.on('message', (message) => {
      if (entry.messages.some((known) => known.id === message.id)) return;
      entry.messages.push(message);
      if (entry.messages.length > MAX_SHOWN_MESSAGES)
        entry.messages.splice(0, entry.messages.length - MAX_SHOWN_MESSAGES);
      stopTyping(entry, message.author.id);
      if (name !== active) entry.unread += 1;
      render();
    });
    room.on('presence', render);
    room.on('count', ({ mode }) => {
      // A new mode: the list the page read for the old one no longer applies.
      if (mode === 'members') entry.listed = entry.nextCursor = undefined;
      render();
    });
    room.on('typing', ({ member }) => {
      clearTimeout(entry.typing.get(member.id)?.timer);
      entry.typing.set(member.id, {
        name: member.name,
        timer: setTimeout(() => stopTyping(entry, member.id), TYPING_SHOWN_MS),
      });
      render();
    });
    select(name);
    clearError();
  } catch (error) {
    showError(error);
  }
}

async function leave(name) {
  const entry = rooms.get(name);
  if (!entry) return;
  rooms.delete(name);
  for (const { timer } of entry.typing.values()) clearTimeout(timer);
  if (active === name) active = rooms.keys().next().value;
  render();
  try {
    await entry.room.leave();
  } catch (error) {
    showError(error);
  }
}

function stopTyping(entry, memberId) {
  clearTimeout(entry.typing.get(memberId)?.timer);
  if (entry.typing.delete(memberId)) render();
}

function select(name) {
  active = name;
  rooms.get(name).unread = 0;
  render();
}

function render() {
  renderRoomList();
  const entry = rooms.get(active);
  $('room-title').textContent = entry ? `#${active}` : 'Join a room';
  $('message-form').hidden = !entry;
  $('load-older').hidden = !entry?.hasOlder;
  const large = entry?.room.mode === 'large';
  $('member-count').textContent = entry ? `(${entry.room.count.toLocaleString()})` : '';
  $('large-room').hidden = !large;
  $('more-members').hidden = !large || entry?.nextCursor === undefined;
  replaceChildren(
    $('members'),
    ((large ? entry.listed : entry?.room.members) ?? []).map((member) => {
      const item = el('li', { 'data-testid': 'member', 'data-member-id': member.id }, member.name);
      if (member.id === userId) item.append(' (you)');
      return item;
    }),
  );
  const list = $('messages');
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  replaceChildren(list, (entry?.messages ?? []).map(messageItem));
  if (atBottom) list.scrollTop = list.scrollHeight;
  const typists = [...(entry?.typing.values() ?? [])].map((typist) => typist.name);
  $('typing').textContent =
    typists.length === 0 ? '' : `${typists.join(', ')} ${typists.length === 1 ? 'is' : 'are'} typing…`;
}

function renderRoomList() {
  replaceChildren(
    $('room-list'),
    [...rooms.entries()].map(([name, entry]) => {
      const item = el(
        'li',
        { 'data-testid': 'room-item', 'data-room': name, 'aria-current': String(name === active) },
        el('span', {}, `#${name}`),
      );
      if (entry.unread > 0) item.append(el('span', { class: 'unread', 'data-testid': 'unread' }, String(entry.unread)));
      const leaveButton = el(
        'button',
        { class: 'leave', type: 'button', title: `Leave #${name}`, 'data-testid': 'leave-button' },
        '×',
      );
      leaveButton.addEventListener('click', (event) => {
        event.stopPropagation();
        leave(name);
      });
      item.append(leaveButton);
      item.addEventListener('click', () => select(name));
      return item;
    }),
  );
}

function messageItem(message) {
  const mine = message.author.id === userId;
  const sentAt = new Date(message.sentAt);
  return el(
    'li',
    { 'data-testid': 'message', 'data-id': message.id, 'data-author': message.author.name, class: mine ? 'mine' : '' },
    el('span', { class: 'author' }, message.author.name),
    el('span', { class: 'text', 'data-testid': 'message-text' }, message.text),
    el('time', { datetime: message.sentAt }, sentAt.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })),
  );
}

function showState(state) {
  const label = $('state');
  label.dataset.state = state;
  label.textContent = state;
}

function showError(error) {
  const box = $('error');
  box.hidden = false;
  box.textContent = error?.code ? `${error.code}: ${error.message}` : String(error?.message ?? error);
  box.dataset.code = error?.code ?? '';
}

function clearError() {
  $('error').hidden = true;
}

/** A DOM element; text children are set as text, never parsed as HTML. */
function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) if (value !== '') node.setAttribute(name, value);
  node.append(...children);
  return node;
}

function replaceChildren(parent, children) {
  parent.replaceChildren(...children);
}
