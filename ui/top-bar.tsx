// The page header every page shows: the home link, the page's title, and what the page adds.
import type { ComponentChildren } from 'preact';

export function TopBar({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <header class="bar" role="banner">
      <a href="/ui/" class="home">
        log-service
      </a>
      <h1 class="title">{title}</h1>
      {children}
    </header>
  );
}
