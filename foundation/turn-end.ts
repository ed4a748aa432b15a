// Work left for the end of this turn of the event loop, once its I/O
// callbacks have run: one setImmediate for all of it, in two rounds, answers
// first. A push's 204 is written with the others of its turn
// (handler/responses.ts), then the cursors its lines wake run
// (stream/memory-log-stream.ts notifySoon): so a producer never waits for the
// fan-out of its last push (its answer is on its way before a hundred
// viewers write their sockets), and it gets the answers of its connections
// in one wake-up.

export type TurnEndRound = 'answers' | 'wakes';

type Task = () => void;

let answers: Task[] = [];
let wakes: Task[] = [];
/** The last run's arrays, emptied: the next turn's tasks go into them, so no turn makes new arrays. */
let spareAnswers: Task[] = [];
let spareWakes: Task[] = [];
let scheduled = false;

/** Runs `task` at the end of this turn, in `round`: every answer before any wake-up. */
export function atTurnEnd(round: TurnEndRound, task: Task): void {
  (round === 'answers' ? answers : wakes).push(task);
  if (scheduled) return;
  scheduled = true;
  setImmediate(runTurnEnd);
}

function runTurnEnd(): void {
  scheduled = false;
  // Taken first: a task that leaves more work (a cursor woken pushes, say) leaves it for the next turn.
  const answering = answers;
  const waking = wakes;
  answers = spareAnswers;
  wakes = spareWakes;
  try {
    for (const task of answering) task();
    for (const task of waking) task();
  } finally {
    // Emptied even when a task threw: none of this turn's tasks runs twice.
    answering.length = 0;
    waking.length = 0;
    spareAnswers = answering;
    spareWakes = waking;
  }
}
