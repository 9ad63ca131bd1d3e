-- Durable history for exai-mcp (written by the worker's exai.supabase queue when SUPABASE_URL and
-- SUPABASE_KEY are set). Every write is an upsert on the primary key, so retried writes repeat safely.
-- Apply with `supabase db push` or psql. The worker uses the service-role key; row level security is
-- on with no policy, so the anon key reads nothing.

create table if not exists public.conversations (
    id          uuid primary key,
    owner       text not null,                      -- client identity that created the thread
    tool        text not null,                      -- tool of the first turn
    state       jsonb not null default '{}'::jsonb, -- workflow steps of workflow tools
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now()
);
create index if not exists conversations_owner_idx on public.conversations (owner, updated_at desc);

create table if not exists public.messages (
    id               text primary key,              -- "<conversation id>:<idx>"
    conversation_id  uuid not null references public.conversations (id) on delete cascade,
    idx              integer not null,              -- position of the turn in the thread
    role             text not null check (role in ('user', 'assistant')),
    content          text not null,
    tool             text not null,
    files            jsonb not null default '[]'::jsonb,
    provider         text,
    model            text,
    created_at       timestamptz not null default now(),
    unique (conversation_id, idx)
);

create table if not exists public.tool_calls (
    call_id         text primary key,
    tool            text not null,
    client          text not null,
    status          text not null check (status in ('success', 'error')),
    error_code      text,
    provider        text,
    model           text,
    tokens_in       integer,
    tokens_out      integer,
    latency_ms      integer,
    retries         integer not null default 0,
    correlation_id  text not null,
    created_at      timestamptz not null,           -- when the call was made
    finished_at     timestamptz not null
);
create index if not exists tool_calls_created_idx on public.tool_calls (created_at desc);
create index if not exists tool_calls_correlation_idx on public.tool_calls (correlation_id);

alter table public.conversations enable row level security;
alter table public.messages enable row level security;
alter table public.tool_calls enable row level security;
