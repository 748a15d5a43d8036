import { describe, expect, it } from '@jest/globals';
import { Cleanup } from '../../src/shell/cleanup.ts';

describe('a cleanup stack', () => {
  it('stops what was started last first', async () => {
    const stopped: string[] = [];
    const cleanup = new Cleanup();
    cleanup.add('control plane', () => stopped.push('control plane'));
    const browser = cleanup.track('browser', { name: 'chromium' }, async (b) => {
      await Promise.resolve();
      stopped.push(b.name);
    });
    cleanup.add('server', () => stopped.push('server'));
    await cleanup.run();
    expect(browser.name).toBe('chromium');
    expect(stopped).toEqual(['server', 'chromium', 'control plane']);
  });

  it('still stops everything else when one stop fails, then reports the failure by name', async () => {
    const stopped: string[] = [];
    const cleanup = new Cleanup();
    cleanup.add('control plane', () => stopped.push('control plane'));
    cleanup.add('browser', () => {
      throw new Error('never launched');
    });
    cleanup.add('server', () => stopped.push('server'));
    await expect(cleanup.run()).rejects.toThrow('stopping browser: never launched');
    expect(stopped).toEqual(['server', 'control plane']);
  });

  it('reports every failure when several stops fail', async () => {
    const cleanup = new Cleanup();
    cleanup.add('a', () => Promise.reject(new Error('one')));
    cleanup.add('b', () => Promise.reject(new Error('two')));
    await expect(cleanup.run()).rejects.toThrow('stopping b: two; stopping a: one');
  });

  it('forgets what it stopped: a second run stops nothing again', async () => {
    let stops = 0;
    const cleanup = new Cleanup();
    cleanup.add('server', () => stops++);
    await cleanup.run();
    await cleanup.run();
    expect(stops).toBe(1);
  });
});
