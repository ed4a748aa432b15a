// Work left for the end of a turn of the event loop (foundation/turn-end.ts):
// every answer before any wake-up, whatever order they were left in; none of
// it at once; what a task leaves goes to the next turn.
import assert from 'node:assert/strict';
import { atTurnEnd } from '../../foundation/turn-end.ts';

describe('atTurnEnd', () => {
  it('runs the answers of a turn before its wake-ups, each round in order, none of them at once', async () => {
    const ran: string[] = [];
    atTurnEnd('wakes', () => ran.push('wake 1'));
    atTurnEnd('answers', () => ran.push('answer 1'));
    atTurnEnd('wakes', () => ran.push('wake 2'));
    atTurnEnd('answers', () => ran.push('answer 2'));
    await Promise.resolve();
    assert.deepEqual(ran, [], 'nothing before the turn ends');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(ran, ['answer 1', 'answer 2', 'wake 1', 'wake 2']);
  });

  it('leaves what a task asks for to the next turn', async () => {
    const ran: string[] = [];
    atTurnEnd('wakes', () => {
      ran.push('wake');
      atTurnEnd('answers', () => ran.push('later answer'));
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(ran, ['wake']);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(ran, ['wake', 'later answer']);
  });

  it('runs each task once, in its own turn, turn after turn', async () => {
    const ran: string[] = [];
    for (let turn = 0; turn < 4; turn++) {
      atTurnEnd('answers', () => ran.push(`answer ${turn}`));
      atTurnEnd('wakes', () => ran.push(`wake ${turn}`));
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(ran.slice(-2), [`answer ${turn}`, `wake ${turn}`]);
    }
    assert.equal(ran.length, 8, ran.join(', '));
  });
});
