// The page's router and the token prompt (docs/VIEWER.md §1, §6):
//   /ui/                                 builds
//   /ui/ci/<project>/<build>/<stage>/<step>   a step's log (CI routes)
//   /ui/stream?accountID=&key=           a step's log (Harness routes)
import { useState } from 'preact/hooks';
import { authProblem, setToken } from './api.ts';
import { BuildsPage } from './builds-page.tsx';
import { stepAddress } from './addresses.ts';
import { StepPage } from './step-page.tsx';

export function App() {
  const address = stepAddress(location.pathname, new URLSearchParams(location.search));
  return (
    <>
      {address === undefined ? <BuildsPage /> : <StepPage address={address} />}
      {authProblem.value !== undefined && <TokenPrompt status={authProblem.value.status} message={authProblem.value.message} />}
    </>
  );
}

function TokenPrompt({ status, message }: { status: number; message: string }) {
  const [token, setValue] = useState('');
  return (
    <div class="modal" role="dialog" aria-modal="true" aria-labelledby="token-title">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (token !== '') setToken(token);
        }}
      >
        <h2 id="token-title">{status === 403 ? 'This token may not read this log' : 'A token is needed'}</h2>
        <p data-testid="auth-message">
          {status === 403
            ? `The server refused the token (403): ${message}. Enter a token whose account and scope cover this log.`
            : `The server asks for a token (401): ${message}. It is kept in this tab only (sessionStorage).`}
        </p>
        <input
          type="password"
          autoComplete="off"
          autoFocus
          aria-label="token"
          data-testid="token"
          value={token}
          onInput={(e) => setValue(e.currentTarget.value)}
        />
        <button type="submit">use token</button>
      </form>
    </div>
  );
}
