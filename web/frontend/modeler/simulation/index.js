// Token simulation in the modeler (bpmn-js-token-simulation's modeling module): the toolbar's
// Simulate button switches it on and off; while it is on the library pauses editing. Its own
// switch inside the canvas is hidden (the toolbar's replaces it). The library writes English
// into the DOM without `translate`, so on Chinese pages its texts are translated as they
// appear (./dom.js; the strings are in ../i18n/zh.js, the collector checks them).

import TokenSimulationModule from 'bpmn-js-token-simulation/lib/modeler';
import 'bpmn-js-token-simulation/assets/css/bpmn-js-token-simulation.css';
import './simulation.css';

import { pageLanguage } from '../iso8601.js';
import { translateSimulationDom } from './dom.js';

const TOGGLE_MODE_EVENT = 'tokenSimulation.toggleMode';

export const simulationModule = TokenSimulationModule;

export function installSimulation(page) {
  const { bpmn, root } = page;
  const button = root.querySelector('[data-action="simulate"]');
  const eventBus = bpmn.get('eventBus');
  eventBus.on(TOGGLE_MODE_EVENT, (event) => {
    root.setAttribute('data-simulating', String(event.active));
    if (button) {
      button.setAttribute('aria-pressed', String(event.active));
      button.classList.toggle('primary', event.active);
    }
  });
  if (pageLanguage() === 'zh') {
    translateSimulationDom(root.querySelector('#tf-canvas'), bpmn.get('translate'));
  }
  return {
    toggle() {
      page.flushInput();
      bpmn.get('toggleMode').toggleMode();
    },
    active() {
      return root.getAttribute('data-simulating') === 'true';
    }
  };
}
