// The web log viewer's entry point (docs/VIEWER.md), bundled by bin/build-ui.js.
import { render } from 'preact';
import { App } from './app.tsx';
import './style.css';

render(<App />, document.getElementById('app')!);
