export interface SnippetOptions {
  /** The advertised NATS URL(s): /api/pocketbus/info → nats.url (comma-separated). */
  natsUrl: string
  /** The .creds file's name as downloaded. */
  credsFile: string
  /** The Pocketbus server (for the SDK snippets). */
  appUrl: string
  projectId: string
  /** nats CLI context name (default: the file name without .creds). */
  name?: string
  /** Subject the examples publish to (default: one from pubAllow, else "hello"). */
  subject?: string
  pubAllow?: string[]
}

export interface Snippet {
  id: 'cli' | 'go' | 'node' | 'browser' | 'python' | 'rust' | 'java'
  label: string
  language: string
  /** How to get the client library. */
  install: string
  code: string
}

export function connectionSnippets(options: SnippetOptions): Snippet[]
export function exampleSubject(pubAllow?: string[]): string
export function natsUrls(url: string | undefined | null): string[]
